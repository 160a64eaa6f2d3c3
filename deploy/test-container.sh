#!/usr/bin/env bash
# Build the proxmox-mcp image from the Dockerfile and prove it runs (npm run test:container; CI: deploy/ci-steps.sh).
#
# There is no Docker engine here, so: buildah builds the unmodified Dockerfile (`buildah bud
# --isolation=chroot`), from local stand-ins for its two bases made by deploy/build-base.sh (a debootstrap
# root for ubuntu:22.04, the official Node 24 binary from the npm registry for node:24-bookworm-slim), and `buildah run
# --isolation=chroot` runs it. Checked:
#   * the image: non-root user 10001, HEALTHCHECK, port 3001, the three volumes, only run-time files
#     (no npm, no TypeScript sources, no tests, no .env, no .git, no dev dependencies)
#   * the server starts in it (simulated cluster, 127.0.0.1:<free port>), answers /health, refuses /mcp
#     without a token, and lists tools over MCP with the admin token from the environment and with a
#     token made by the token CLI inside the image
#   * the image's own HEALTHCHECK command succeeds
#   * it writes nothing outside its volumes and /tmp (so read_only: true in docker-compose.yml holds)
#
# Environment: TEST_CONTAINER_CONTEXT=worktree (default: the files as they are) | head (git archive HEAD);
# KEEP_IMAGE=1 keeps the built image tag; REBUILD_BASE=1 debootstraps the base again.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
IMAGE="${TEST_IMAGE:-localhost/proxmox-mcp:test}"
started=$SECONDS

for tool in buildah debootstrap node curl; do
  command -v "$tool" >/dev/null 2>&1 || { echo "test-container: '$tool' is missing (deploy/ci-steps.sh installs it)" >&2; exit 1; }
done
[[ "$(id -u)" == 0 ]] || { echo "test-container: run as root (buildah with chroot isolation)" >&2; exit 1; }

T="$(mktemp -d /tmp/pmcp-test-container.XXXXXX)"
CTR=''
CTR2=''
SERVER_PGID=''
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
  # The server runs in its own process group (setsid), so this ends exactly what this script started.
  if [[ -n "$SERVER_PGID" ]]; then
    kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true
    sleep 0.5
    kill -KILL -- "-$SERVER_PGID" 2>/dev/null || true
  fi
  local ctr
  for ctr in "$CTR" "$CTR2"; do
    if [[ -n "$ctr" ]]; then buildah rm "$ctr" >/dev/null 2>&1 || true; fi
  done
  if [[ "${KEEP_IMAGE:-0}" != 1 ]]; then buildah rmi "$IMAGE" >/dev/null 2>&1 || true; fi
  rm -rf "$T"
}
trap cleanup EXIT

# shellcheck source=deploy/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"
finish() {
  printf '\ntest-container: %s s\n%d passed, %d failed\n' "$((SECONDS - started))" "$PASS" "$FAIL"
  ((FAIL == 0))
  exit
}

section "local base images (cached after the first run)"
t0=$SECONDS
base_args=()
[[ "${REBUILD_BASE:-0}" == 1 ]] && base_args+=(--rebuild)
mapfile -t bases < <(bash "$REPO/deploy/build-base.sh" "${base_args[@]}")
BASE_IMAGE="${bases[0]}"
NODE_IMAGE="${bases[1]}"
pass "$BASE_IMAGE and $NODE_IMAGE ($((SECONDS - t0)) s)"

section "buildah bud --isolation=chroot"
context="$REPO"
if [[ "${TEST_CONTAINER_CONTEXT:-worktree}" == head ]]; then
  context="$T/context"
  mkdir -p "$context"
  git -C "$REPO" archive HEAD | tar -x -C "$context"
fi
build_args=(--isolation=chroot --format docker --layers --pull=never
  --build-arg "BASE_IMAGE=$BASE_IMAGE" --build-arg "NODE_IMAGE=$NODE_IMAGE" -t "$IMAGE")
# Behind a TLS-intercepting proxy (as here) npm needs the machine's CA bundle; a build secret keeps it out of the image.
ca_bundle="${NODE_EXTRA_CA_CERTS:-${SSL_CERT_FILE:-/etc/ssl/certs/ca-certificates.crt}}"
[[ -s "$ca_bundle" ]] && build_args+=(--secret "id=ca_bundle,src=$ca_bundle")
t0=$SECONDS
# buildah bud can leave working containers behind (a stage used only by COPY --from, a failed step):
# remove exactly the ones this build made.
mapfile -t containers_before < <(buildah containers -q 2>/dev/null || true)
remove_build_leftovers() {
  local id
  while IFS= read -r id; do
    if [[ -n "$id" && " ${containers_before[*]} " != *" $id "* ]]; then buildah rm "$id" >/dev/null 2>&1 || true; fi
  done < <(buildah containers -q 2>/dev/null || true)
}
if buildah bud "${build_args[@]}" "$context" >"$T/build.log" 2>&1; then
  remove_build_leftovers
  pass "built $IMAGE ($((SECONDS - t0)) s)"
else
  remove_build_leftovers
  tail -n 40 "$T/build.log"
  fail "the image did not build (log above)"
  finish
fi

section "the image"
inspect() { buildah inspect --type image --format "$1" "$IMAGE"; }
check "runs as 10001:10001 (non-root)" test "$(inspect '{{.Docker.Config.User}}')" == 10001:10001
check "HEALTHCHECK runs node on /health" bash -c "[[ \"\$(buildah inspect --type image --format '{{.Docker.Config.Healthcheck.Test}}' '$IMAGE')\" == *healthcheck.mjs* ]]"
check "exposes 3001/tcp" bash -c "[[ \"\$(buildah inspect --type image --format '{{.Docker.Config.ExposedPorts}}' '$IMAGE')\" == *3001/tcp* ]]"
volumes="$(inspect '{{.Docker.Config.Volumes}}')"
check "volumes for data, logs and backups" bash -c "[[ '$volumes' == */var/lib/proxmox-mcp* && '$volumes' == */var/log/proxmox-mcp* && '$volumes' == */var/backups/proxmox-mcp* ]]"
check "starts node dist/server.js" bash -c "[[ \"\$(buildah inspect --type image --format '{{.Docker.Config.Cmd}}' '$IMAGE')\" == '[node '*' dist/server.js]' ]]"
printf '        image size: %s\n' "$(buildah images --format '{{.Size}}' "$IMAGE" 2>/dev/null | head -n 1)"

CTR="$(buildah from --pull=never "$IMAGE")"
# buildah run mounts volumes of its own at the image's VOLUME paths, over the --volume binds given below;
# the working containers forget them, so the host directories are what the server sees (as with compose).
unvolume() { buildah config --volume /var/lib/proxmox-mcp- --volume /var/log/proxmox-mcp- --volume /var/backups/proxmox-mcp- "$1"; }
unvolume "$CTR"
in_image() { buildah run --isolation=chroot --user 0:0 "$CTR" -- "$@"; }
check "only run-time files: no npm, sources, tests, .env, .git" \
  in_image sh -c '! test -e /usr/local/bin/npm && ! test -e /usr/local/lib/node_modules/npm && cd /opt/proxmox-mcp && ! test -e server.ts && ! test -e tests && ! test -e .env && ! test -e .git && ! test -e tsconfig.json && test -f dist/server.js && test -d knowledge && test -f package.json'
check "no dev dependencies (typescript, vitest)" in_image sh -c '! test -e /opt/proxmox-mcp/node_modules/typescript && ! test -e /opt/proxmox-mcp/node_modules/vitest'
# shellcheck disable=SC2016 # expands inside the image
check "the app's files are not writable by its user" in_image sh -c 'test "$(stat -c %U /opt/proxmox-mcp/dist/server.js)" = root'
check "node runs in the image" in_image node --version
# The major of the Dockerfile's NODE_IMAGE default (node:24-bookworm-slim) is the Node the image runs.
node_major="$(sed -n 's/^ARG NODE_IMAGE=node:\([0-9]*\)-.*/\1/p' "$REPO/Dockerfile")"
check "the image runs Node ${node_major:-?} (the Dockerfile's node image)" in_image sh -c "node --version | grep -q '^v${node_major:-none}\\.'"

section "the server in the image (buildah run --isolation=chroot, simulated cluster)"
port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
admin_token="pmcp_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
mkdir -p "$T/data" "$T/log" "$T/backups"
chown 10001:10001 "$T/data" "$T/log" "$T/backups"
chmod 0750 "$T/data" "$T/log" "$T/backups"
run_args=(--isolation=chroot --user 10001:10001
  --volume "$T/data:/var/lib/proxmox-mcp" --volume "$T/log:/var/log/proxmox-mcp" --volume "$T/backups:/var/backups/proxmox-mcp"
  --mount "type=tmpfs,destination=/tmp"
  --env MCP_HOST=127.0.0.1 --env "MCP_PORT=$port")
# A second container of the same image plays `docker compose exec` (token CLI, health probe): buildah does
# not support two concurrent runs in one working container.
CTR2="$(buildah from --pull=never "$IMAGE")"
unvolume "$CTR2"
# A marker older than anything the server writes, to find writes outside the volumes afterwards.
buildah run --isolation=chroot --user 0:0 "$CTR" -- sh -c 'date > /opt/.pmcp-before-start' >/dev/null
sleep 1.1
setsid buildah run "${run_args[@]}" --env "MCP_ADMIN_TOKEN=$admin_token" "$CTR" -- node dist/server.js >"$T/server.log" 2>&1 &
SERVER_PGID=$!
deadline=$((SECONDS + 60))
until curl -fs -o /dev/null --max-time 2 "http://127.0.0.1:$port/health"; do
  if ((SECONDS > deadline)) || ! kill -0 "$SERVER_PGID" 2>/dev/null; then break; fi
  sleep 0.5
done
if curl -fs -o /dev/null "http://127.0.0.1:$port/health"; then
  pass "listening on 127.0.0.1:$port"
else
  tail -n 30 "$T/server.log"
  fail "the server did not come up (log above)"
  finish
fi

if node "$REPO/deploy/mcp-smoke.mjs" "http://127.0.0.1:$port" "$admin_token" --call >"$T/smoke.out" 2>&1; then
  sed 's/^/        /' "$T/smoke.out"
  pass "/health, 401 without a token, initialize + tools/list with the admin token"
else
  sed 's/^/        /' "$T/smoke.out"
  tail -n 20 "$T/server.log"
  fail "MCP smoke test with the admin token"
fi

# The token CLI inside the image, on the same data volume, while the server runs.
if buildah run "${run_args[@]}" "$CTR2" -- node dist/bin/token.js create --name ci-viewer --role viewer --json >"$T/token.json" 2>"$T/token.err"; then
  viewer_token="$(node -e 'console.log(JSON.parse(require("fs").readFileSync(process.argv[1], "utf8")).token)' "$T/token.json")"
  if node "$REPO/deploy/mcp-smoke.mjs" "http://127.0.0.1:$port" "$viewer_token" >"$T/smoke2.out" 2>&1; then
    pass "a token made by 'node dist/bin/token.js create' in the image lists tools"
  else
    cat "$T/smoke2.out"
    fail "MCP tools/list with the CLI-made token"
  fi
else
  cat "$T/token.err"
  fail "token CLI in the image"
fi

check "the image's HEALTHCHECK command passes" \
  buildah run "${run_args[@]}" "$CTR2" -- node /opt/proxmox-mcp/deploy/healthcheck.mjs

kill -TERM -- "-$SERVER_PGID" 2>/dev/null || true
for _ in $(seq 1 20); do kill -0 "$SERVER_PGID" 2>/dev/null || break; sleep 0.5; done
if kill -0 "$SERVER_PGID" 2>/dev/null; then fail "the server did not stop on SIGTERM within 10 s"; else pass "stops on SIGTERM"; fi
SERVER_PGID=''

check "the server made its database in the data volume" bash -c "ls '$T/data' | grep -q ."
# Anything newer than the marker outside the volumes, /tmp and the kernel/runtime mounts would break read_only: true.
written="$(in_image find / -xdev \
  \( -path /proc -o -path /sys -o -path /dev -o -path /run -o -path /tmp -o -path /var/lib/proxmox-mcp -o -path /var/log/proxmox-mcp -o -path /var/backups/proxmox-mcp \) -prune -o \
  -newer /opt/.pmcp-before-start ! -path /etc/hosts ! -path /etc/resolv.conf ! -path /etc/hostname ! -path / ! -path /opt/.pmcp-before-start -print 2>/dev/null || true)"
if [[ -z "$written" ]]; then
  pass "wrote nothing outside its volumes and /tmp (read-only root filesystem is fine)"
else
  printf '        %s\n' "$written"
  fail "it wrote outside its volumes (above): read_only: true would break"
fi


finish
