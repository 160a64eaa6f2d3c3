#!/usr/bin/env bash
# proxmox-mcp host-side updater: the half of self_update that runs on the host, as root.
#
# The container cannot rebuild itself (no Docker socket is mounted into it, on purpose). Its self_update
# tool writes <update dir>/request.json; systemd (proxmox-mcp-update.path) sees it and starts this script
# (proxmox-mcp-update.service), which:
#   1. takes the request (moves it aside, so it runs once) and validates it: a release tag, nothing else
#   2. git fetch --tags, then git checkout <tag> in the install dir (refuses when the checkout has local changes)
#   3. docker compose up -d --build
#   4. waits for GET /health to answer with the new version
#   5. on any failure: checks out the previous version again, rebuilds, and reports "rolled_back"
#   6. writes <update dir>/result.json for the container to read
#
# request.json: {"id": "any string", "version": "v1.2.3"}   ("target" or "tag" are accepted for "version";
#               "latest" means the newest release tag)
# result.json:  {"id", "status": "succeeded"|"rolled_back"|"failed"|"rejected", "from", "to", "message",
#                "started_at", "finished_at"}
#
# The request comes from the container, so it is treated as untrusted input: size-limited, no symlinks,
# the version must look like a release tag and exist as a tag; result.json is written through a new file
# and a rename, so a planted symlink cannot redirect a root write.
#
# Settings (from the unit, or the environment): PROXMOX_MCP_INSTALL_DIR, PROXMOX_MCP_UPDATE_DIR,
# PROXMOX_MCP_ENV_FILE (for MCP_HOST/MCP_PORT), PROXMOX_MCP_HEALTH_TIMEOUT (seconds, default 180),
# PROXMOX_MCP_COMPOSE (default "docker compose").
set -euo pipefail

main() {
  local install_dir="${PROXMOX_MCP_INSTALL_DIR:-/opt/proxmox-mcp}"
  local update_dir="${PROXMOX_MCP_UPDATE_DIR:-/var/lib/proxmox-mcp/update}"
  local env_file="${PROXMOX_MCP_ENV_FILE:-$install_dir/.env}"
  local health_timeout="${PROXMOX_MCP_HEALTH_TIMEOUT:-180}"
  local -a compose
  read -r -a compose <<<"${PROXMOX_MCP_COMPOSE:-docker compose}"

  local request="$update_dir/request.json" taken="$update_dir/request.processing.json"
  STARTED_AT="$(date -u +%Y-%m-%dT%H:%M:%SZ)"
  RESULT_FILE="$update_dir/result.json"
  REQUEST_ID=''
  FROM=''
  TO=''

  exec 9>"/run/lock/proxmox-mcp-update.lock" 2>/dev/null || exec 9>"${TMPDIR:-/tmp}/proxmox-mcp-update.lock"
  flock -n 9 || { log "another update is running"; exit 0; }

  [[ -e "$request" || -L "$request" ]] || { log "no request"; exit 0; }
  if [[ -L "$request" || ! -f "$request" ]]; then
    rm -f -- "$request"
    finish rejected "request.json must be a plain file"
  fi
  mv -f -- "$request" "$taken"
  if (($(stat -c %s "$taken") > 4096)); then rm -f -- "$taken"; finish rejected "request.json is larger than 4 KiB"; fi
  local parsed
  parsed="$(perl -MJSON::PP -0777 -ne '
      my $d = eval { decode_json($_) };
      if (ref $d ne "HASH") { print "!"; exit }
      my $id = $d->{id} // ""; my $v = $d->{version} // $d->{target} // $d->{tag} // "";
      $id =~ s/[^A-Za-z0-9._:-]//g; $v =~ s/\s//g;
      print substr($id, 0, 100), "\t", $v;' "$taken")"
  rm -f -- "$taken"
  [[ "$parsed" != '!' ]] || finish rejected "request.json is not a JSON object"
  REQUEST_ID="${parsed%%$'\t'*}"
  local wanted="${parsed#*$'\t'}"

  cd "$install_dir" || finish failed "install dir $install_dir not found"
  [[ -d .git ]] || finish failed "$install_dir is not a git checkout"
  FROM="$(git describe --tags --exact-match 2>/dev/null || git rev-parse --short HEAD)"
  local previous_commit
  previous_commit="$(git rev-parse HEAD)"

  log "fetching tags"
  git fetch --quiet --tags --force origin || finish failed "git fetch failed (is the remote reachable from the host?)"
  if [[ -z "$wanted" || "$wanted" == latest ]]; then
    wanted="$(git tag --list 'v[0-9]*' --sort=-v:refname | grep -E '^v[0-9]+\.[0-9]+\.[0-9]+$' | head -n 1 || true)"
    [[ -n "$wanted" ]] || finish failed "no release tag found"
  fi
  # Release tags only: never a branch, a commit, an option (-...) or a path.
  [[ "$wanted" =~ ^v?[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z.]+)?$ ]] || finish rejected "'$wanted' is not a release version (vX.Y.Z)"
  [[ "$wanted" == v* ]] || wanted="v$wanted"
  TO="$wanted"
  git rev-parse --verify --quiet "refs/tags/$wanted^{commit}" >/dev/null || finish rejected "there is no release $wanted"
  if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
    finish failed "the checkout in $install_dir has local changes; commit or stash them, then update by hand"
  fi
  if [[ "$(git rev-parse "refs/tags/$wanted^{commit}")" == "$previous_commit" ]]; then
    finish succeeded "already at $wanted"
  fi

  log "updating $FROM -> $wanted"
  if git -c advice.detachedHead=false checkout --quiet "refs/tags/$wanted" &&
    "${compose[@]}" up -d --build --remove-orphans &&
    wait_healthy "$env_file" "$health_timeout" "${wanted#v}"; then
    finish succeeded "updated $FROM -> $wanted"
  fi

  log "update to $wanted failed; rolling back to $FROM"
  if git -c advice.detachedHead=false checkout --quiet "$previous_commit" &&
    "${compose[@]}" up -d --build --remove-orphans &&
    wait_healthy "$env_file" "$health_timeout" ''; then
    finish rolled_back "update to $wanted failed (no healthy server within ${health_timeout}s); back on $FROM"
  fi
  finish failed "update to $wanted failed and so did the rollback to $FROM: check 'docker compose logs' in $install_dir"
}

log() { printf 'proxmox-mcp-update: %s\n' "$*" >&2; }

# wait_healthy ENV_FILE TIMEOUT VERSION: GET /health until it answers 200 (and, when VERSION is given, reports it).
wait_healthy() {
  local env_file="$1" timeout="$2" version="$3" host port
  host="$(env_value "$env_file" MCP_HOST)"
  port="$(env_value "$env_file" MCP_PORT)"
  [[ -z "$host" || "$host" == 0.0.0.0 || "$host" == '::' ]] && host=127.0.0.1
  [[ "$host" == *:* ]] && host="[$host]"
  local url="http://$host:${port:-3001}/health" deadline=$((SECONDS + timeout)) body
  while ((SECONDS < deadline)); do
    if body="$(curl -fsS --max-time 5 "$url" 2>/dev/null)"; then
      if [[ -z "$version" || "$body" == *"\"version\":\"$version\""* ]]; then
        log "healthy: $body"
        return 0
      fi
    fi
    sleep 3
  done
  log "no healthy answer from $url within ${timeout}s"
  return 1
}

env_value() { [[ -f "$1" ]] && awk -F= -v key="$2" '$1 == key { sub(/^[^=]*=/, ""); v = $0 } END { print v }' "$1"; }

# finish STATUS MESSAGE: write result.json (new file + rename: never follows a planted symlink) and exit.
finish() {
  local status="$1" message="$2" dir tmp
  dir="$(dirname "$RESULT_FILE")"
  tmp="$(mktemp "$dir/.result.XXXXXX")"
  ID="$REQUEST_ID" STATUS="$status" FROM="$FROM" TO="$TO" MESSAGE="$message" STARTED="$STARTED_AT" \
    perl -MJSON::PP -MPOSIX=strftime -e 'print JSON::PP->new->canonical->encode({
      id => $ENV{ID}, status => $ENV{STATUS}, from => $ENV{FROM}, to => $ENV{TO}, message => $ENV{MESSAGE},
      started_at => $ENV{STARTED}, finished_at => strftime("%Y-%m-%dT%H:%M:%SZ", gmtime) }), "\n"' >"$tmp"
  chmod 0644 "$tmp"
  mv -f -- "$tmp" "$RESULT_FILE"
  log "$status: $message"
  [[ "$status" == succeeded || "$status" == rolled_back ]] && exit 0
  exit 1
}

# Everything above is only definitions, and main ends in exit (through finish): bash has parsed the whole
# function before it runs, so a checkout that rewrites this file on disk cannot change what runs.
main "$@"
