#!/usr/bin/env bash
# Build the two local images the container test builds FROM, so the Dockerfile can be proven without
# Docker Hub (this machine reaches only the npm registry and the Debian archive):
#
#   * the base image (stands in for ubuntu:22.04): a minimal Debian root made with debootstrap from the
#     mirror this machine's own apt uses. Debian bookworm is the honest stand-in: same package family
#     and layout as Ubuntu 22.04 (glibc 2.36 vs 2.35, apt, useradd), and the Dockerfile uses nothing
#     distribution-specific. Set BASE_SUITE/BASE_MIRROR to debootstrap Ubuntu jammy instead where an
#     Ubuntu mirror is reachable (needs the ubuntu-keyring package).
#   * the node runtime image (stands in for node:24-bookworm-slim): an image holding only a Node 24 binary
#     at /usr/local/bin/node and npm at /usr/local/lib/node_modules/npm, the exact paths the official
#     image has and the Dockerfile copies from. The binary is the official upstream build (linked only
#     against glibc/libstdc++, like the one in the official image), taken from the npm registry's
#     node-linux-<arch> package (NODE_VERSION, checked against the registry's integrity hash by npm), the
#     one registry this machine reaches; NODE_BIN=<path> uses another binary instead. npm is this
#     machine's (the Dockerfile uses it only to build).
#
# Both are cached in buildah's storage (and the root filesystem as a tarball in CACHE_DIR), so a second
# run takes seconds. --rebuild forces a fresh debootstrap.
#
# Prints nothing on stdout but the two image names (base, then node), one a line.
set -euo pipefail

BASE_SUITE="${BASE_SUITE:-bookworm}"
BASE_IMAGE_NAME="${BASE_IMAGE_NAME:-localhost/proxmox-mcp-test-base:${BASE_SUITE}}"
NODE_VERSION="${NODE_VERSION:-24.21.0}"
NODE_IMAGE_NAME="${NODE_IMAGE_NAME:-localhost/proxmox-mcp-test-node:${NODE_VERSION%%.*}}"
CACHE_DIR="${CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/proxmox-mcp-ci}"
NODE_BIN="${NODE_BIN:-}"
NPM_DIR="${NPM_DIR:-}"
REBUILD=0
[[ "${1:-}" == "--rebuild" ]] && REBUILD=1

log() { printf '[build-base] %s\n' "$*" >&2; }

# The first Debian mirror URI from apt's own configuration (deb822 .sources or one-line .list).
apt_mirror() {
  local uri=''
  if compgen -G '/etc/apt/sources.list.d/*.sources' >/dev/null; then
    uri="$(awk '/^URIs:/ && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list.d/*.sources)"
  fi
  if [[ -z "$uri" && -f /etc/apt/sources.list ]]; then
    uri="$(awk '/^deb / && $2 !~ /security/ {print $2; exit}' /etc/apt/sources.list)"
  fi
  [[ -n "$uri" ]] || { log "no Debian mirror found in /etc/apt; set BASE_MIRROR"; return 1; }
  printf '%s\n' "$uri"
}

image_exists() { buildah inspect --type image "$1" >/dev/null 2>&1; }

build_base() {
  if [[ "$REBUILD" == 0 ]] && image_exists "$BASE_IMAGE_NAME"; then
    log "base image $BASE_IMAGE_NAME is cached"
    return
  fi
  mkdir -p "$CACHE_DIR"
  local tarball="$CACHE_DIR/rootfs-${BASE_SUITE}.tar"
  if [[ "$REBUILD" == 1 || ! -s "$tarball" ]]; then
    local mirror="${BASE_MIRROR:-$(apt_mirror)}"
    local rootfs
    rootfs="$(mktemp -d "$CACHE_DIR/rootfs.XXXXXX")"
    log "debootstrap --variant=minbase $BASE_SUITE from $mirror (a few minutes, once)"
    debootstrap --variant=minbase "$BASE_SUITE" "$rootfs" "$mirror" >"$CACHE_DIR/debootstrap.log" 2>&1 || {
      log "debootstrap failed; last lines of $CACHE_DIR/debootstrap.log:"
      tail -n 20 "$CACHE_DIR/debootstrap.log" >&2
      rm -rf "$rootfs"
      return 1
    }
    # Slim it like the official distro images: no apt lists, caches or docs.
    rm -rf "$rootfs"/var/lib/apt/lists/* "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb \
      "$rootfs"/usr/share/doc/* "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
    tar -C "$rootfs" --numeric-owner -cf "$tarball.tmp" .
    mv "$tarball.tmp" "$tarball"
    rm -rf "$rootfs"
  else
    log "reusing cached root filesystem $tarball"
  fi
  local ctr
  ctr="$(buildah from scratch)"
  buildah add --quiet "$ctr" "$tarball" / >/dev/null
  buildah config --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin --cmd /bin/bash \
    --label org.opencontainers.image.description="local stand-in for ubuntu:22.04 ($BASE_SUITE, debootstrap minbase)" "$ctr"
  buildah commit --quiet --rm "$ctr" "$BASE_IMAGE_NAME" >/dev/null
  log "committed $BASE_IMAGE_NAME"
}

# The official Node binary of NODE_VERSION from the npm registry (cached in CACHE_DIR); prints its path.
fetch_node() {
  local arch
  case "$(uname -m)" in
    x86_64) arch=x64 ;;
    aarch64) arch=arm64 ;;
    *) log "no node-linux package for $(uname -m); set NODE_BIN"; return 1 ;;
  esac
  local dir="$CACHE_DIR/node-v$NODE_VERSION-linux-$arch"
  if [[ ! -x "$dir/bin/node" ]]; then
    mkdir -p "$CACHE_DIR"
    local tmp
    tmp="$(mktemp -d "$CACHE_DIR/node.XXXXXX")"
    log "fetching node-linux-$arch@$NODE_VERSION from the npm registry (once)"
    (cd "$tmp" && npm pack --silent "node-linux-$arch@$NODE_VERSION" >/dev/null) || { rm -rf "$tmp"; log "npm pack node-linux-$arch@$NODE_VERSION failed"; return 1; }
    tar -xzf "$tmp"/node-linux-"$arch"-*.tgz -C "$tmp" package/bin/node package/LICENSE
    rm -rf "$dir" && mkdir -p "$dir/bin"
    mv "$tmp/package/bin/node" "$dir/bin/node" && mv "$tmp/package/LICENSE" "$dir/LICENSE"
    rm -rf "$tmp"
  fi
  printf '%s\n' "$dir/bin/node"
}

build_node() {
  local version
  if [[ -z "$NODE_BIN" ]]; then NODE_BIN="$(fetch_node)"; fi
  version="$("$NODE_BIN" --version)"
  if [[ "$REBUILD" == 0 ]] && image_exists "$NODE_IMAGE_NAME" &&
    [[ "$(buildah inspect --type image --format '{{index .ImageAnnotations "node.version"}}' "$NODE_IMAGE_NAME" 2>/dev/null)" == "$version" ]]; then
    log "node image $NODE_IMAGE_NAME ($version) is cached"
    return
  fi
  [[ "$version" == "v${NODE_VERSION%%.*}."* ]] || log "warning: $NODE_BIN is $version, the image is meant for Node ${NODE_VERSION%%.*}"
  if [[ -z "$NPM_DIR" ]]; then
    NPM_DIR="$(dirname "$(dirname "$(readlink -f "$(command -v npm)")")")"
  fi
  local stage
  stage="$(mktemp -d)"
  mkdir -p "$stage/usr/local/bin" "$stage/usr/local/lib/node_modules"
  cp "$NODE_BIN" "$stage/usr/local/bin/node"
  cp -a "$NPM_DIR" "$stage/usr/local/lib/node_modules/npm"
  ln -s ../lib/node_modules/npm/bin/npm-cli.js "$stage/usr/local/bin/npm"
  local ctr
  ctr="$(buildah from scratch)"
  buildah copy --quiet "$ctr" "$stage" / >/dev/null
  buildah config --env PATH=/usr/local/bin:/usr/bin:/bin --annotation "node.version=$version" "$ctr"
  buildah commit --quiet --rm "$ctr" "$NODE_IMAGE_NAME" >/dev/null
  rm -rf "$stage"
  log "committed $NODE_IMAGE_NAME ($version from $NODE_BIN)"
}

build_base
build_node
printf '%s\n%s\n' "$BASE_IMAGE_NAME" "$NODE_IMAGE_NAME"
