#!/usr/bin/env bash
# Test of deploy/host-update.sh (the host half of self_update) with a real git checkout and a stand-in for
# `docker compose` (PROXMOX_MCP_COMPOSE): "building" a version makes a local /health server report the
# version in the checkout's package.json; version 0.3.0 is broken (its /health never reports it).
# Checked: an update to a release succeeds; a broken release is rolled back; a branch, a missing release, a
# symlinked request and a checkout with local changes are refused; a planted result.json symlink is not followed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UPDATER="$REPO/deploy/host-update.sh"
T="$(mktemp -d /tmp/pmcp-test-update.XXXXXX)"
HEALTH_PID=''
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() { if [[ -n "$HEALTH_PID" ]]; then kill "$HEALTH_PID" 2>/dev/null || true; fi; rm -rf "$T"; }
trap cleanup EXIT
PASS=0
FAIL=0
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then PASS=$((PASS + 1)); printf '  ok    %s\n' "$what"; else FAIL=$((FAIL + 1)); printf '  FAIL  %s\n' "$what"; fi; }

# An origin with three releases, and the install checkout at the first.
git init -q -b main "$T/origin"
for version in 0.1.0 0.2.0 0.3.0; do
  printf '{"name":"proxmox-mcp","version":"%s"}\n' "$version" >"$T/origin/package.json"
  git -C "$T/origin" add package.json
  git -C "$T/origin" -c user.name=t -c user.email=t@example.invalid commit -q -m "release $version"
  git -C "$T/origin" tag "v$version"
done
git clone -q "$T/origin" "$T/install"
git -C "$T/install" -c advice.detachedHead=false checkout -q v0.1.0

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
printf 'MCP_HOST=0.0.0.0\nMCP_PORT=%s\n' "$port" >"$T/install/.env"
echo 0.1.0 >"$T/running"
# The "container": /health reports whatever version was last "built".
node -e '
  const fs = require("fs");
  require("http").createServer((req, res) => {
    const version = fs.readFileSync(process.argv[1], "utf8").trim();
    res.writeHead(200, { "content-type": "application/json" });
    res.end(JSON.stringify({ status: "ok", name: "proxmox-mcp", version, uptime_s: 1 }));
  }).listen(Number(process.argv[2]), "127.0.0.1");' "$T/running" "$port" &
HEALTH_PID=$!
cat >"$T/fake-compose" <<EOF
#!/usr/bin/env bash
# docker compose up -d --build, played: the checkout's version starts, except 0.3.0, which never gets healthy.
echo "compose \$* in \$PWD" >>"$T/compose.log"
version="\$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' package.json)"
if [[ "\$version" == 0.3.0 ]]; then echo broken >"$T/running"; else echo "\$version" >"$T/running"; fi
EOF
chmod +x "$T/fake-compose"
mkdir -p "$T/update"

update() { # REQUEST-JSON: run the updater as the path unit would
  printf '%s' "$1" >"$T/update/request.json"
  PROXMOX_MCP_INSTALL_DIR="$T/install" PROXMOX_MCP_UPDATE_DIR="$T/update" PROXMOX_MCP_ENV_FILE="$T/install/.env" \
    PROXMOX_MCP_HEALTH_TIMEOUT=4 PROXMOX_MCP_COMPOSE="$T/fake-compose" bash "$UPDATER" >>"$T/updater.log" 2>&1 || true
}
result() { perl -MJSON::PP -0777 -ne 'my $d = decode_json($_); print "$d->{id} $d->{status} $d->{from} $d->{to}"' "$T/update/result.json"; }
at() { git -C "$T/install" describe --tags --exact-match; }

update '{"id":"u1","version":"v0.2.0"}'
check "v0.1.0 -> v0.2.0 succeeds" test "$(result)" == "u1 succeeded v0.1.0 v0.2.0"
check "the checkout is at v0.2.0 and the new version is running" test "$(at) $(cat "$T/running")" == "v0.2.0 0.2.0"
check "the request was consumed" test ! -e "$T/update/request.json"

update '{"id":"u2","version":"0.3.0"}'
check "a release that never gets healthy is rolled back" test "$(result)" == "u2 rolled_back v0.2.0 v0.3.0"
check "back on v0.2.0, running" test "$(at) $(cat "$T/running")" == "v0.2.0 0.2.0"

update '{"id":"u3","version":"main"}'
check "a branch name is rejected" test "$(result)" == "u3 rejected v0.2.0 "
update '{"id":"u4","version":"v9.9.9"}'
check "a release that does not exist is rejected" test "$(result)" == "u4 rejected v0.2.0 v9.9.9"
update '{"id":"u5","version":"--upload-pack=touch /tmp/x"}'
check "an option-looking version is rejected" test "$(result)" == "u5 rejected v0.2.0 "
update 'not json'
check "a request that is not JSON is rejected" bash -c "grep -q '\"status\":\"rejected\"' '$T/update/result.json'"

echo secret >"$T/outside"
ln -s "$T/outside" "$T/update/request.json"
PROXMOX_MCP_INSTALL_DIR="$T/install" PROXMOX_MCP_UPDATE_DIR="$T/update" PROXMOX_MCP_COMPOSE="$T/fake-compose" bash "$UPDATER" >>"$T/updater.log" 2>&1 || true
check "a symlinked request is rejected and removed" bash -c "grep -q 'plain file' '$T/update/result.json' && test ! -L '$T/update/request.json'"

rm -f "$T/update/result.json"
ln -s "$T/outside" "$T/update/result.json"
update '{"id":"u6","version":"v0.2.0"}'
check "a planted result.json symlink is replaced, not followed" bash -c "test \"\$(cat '$T/outside')\" == secret && test ! -L '$T/update/result.json'"
check "already at the release: succeeded without rebuilding" bash -c "grep -q 'already at v0.2.0' '$T/update/result.json'"

echo '// local edit' >>"$T/install/package.json"
update '{"id":"u7","version":"v0.1.0"}'
check "a checkout with local changes is refused" bash -c "grep -q 'local changes' '$T/update/result.json' && test \"\$(git -C '$T/install' describe --tags)\" == v0.2.0"

printf '%d passed, %d failed\n' "$PASS" "$FAIL"
((FAIL == 0))
