#!/usr/bin/env bash
# shellcheck disable=SC2016 # the single-quoted arguments of field() are perl expressions, expanded by perl
# Test of deploy/host-update.sh (the host half of self_update and check_updates; the protocol is
# lib/self/update-protocol.ts) with a real git checkout and a stand-in for `docker compose`
# (PROXMOX_MCP_COMPOSE): "building" a version makes a local /health server report the version in the
# checkout's package.json; version 0.3.0 is broken (its /health never reports it).
# Checked: check (tags after a fetch, what is checked out, a failed fetch); update to a given tag (newer, and
# a downgrade), with GIT_COMMIT/GIT_TAG for the build; rollback of a broken release; and the refusals, each
# answered "failed" with the reason: unknown or missing fields (the old {"version": ...} dialect), a wrong
# action, a non-string value, a branch, a missing release, an option, an inconsistent release, not JSON,
# symlinked requests, local changes; a planted answer symlink is not followed.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UPDATER="$REPO/deploy/host-update.sh"
T="$(mktemp -d /tmp/pmcp-test-update.XXXXXX)"
HEALTH_PID=''
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() { if [[ -n "$HEALTH_PID" ]]; then kill "$HEALTH_PID" 2>/dev/null || true; fi; rm -rf "$T"; }
trap cleanup EXIT
# shellcheck source=deploy/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"

# An origin with releases (v0.4.0's package.json says another version), and the install checkout at the first.
git init -q -b main "$T/origin"
release() { # TAG VERSION
  printf '{"name":"proxmox-mcp","version":"%s"}\n' "$2" >"$T/origin/package.json"
  git -C "$T/origin" add package.json
  git -C "$T/origin" -c user.name=t -c user.email=t@example.invalid commit -q -m "release $1"
  git -C "$T/origin" tag "$1"
}
release v0.1.0 0.1.0
release v0.2.0 0.2.0
release v0.3.0 0.3.0
release v0.4.0 0.3.9
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
echo "compose \$* in \$PWD GIT_COMMIT=\${GIT_COMMIT:-} GIT_TAG=\${GIT_TAG:-}" >>"$T/compose.log"
version="\$(sed -n 's/.*"version":"\([^"]*\)".*/\1/p' package.json)"
if [[ "\$version" == 0.3.0 ]]; then echo broken >"$T/running"; else echo "\$version" >"$T/running"; fi
EOF
chmod +x "$T/fake-compose"
mkdir -p "$T/update"

run_updater() {
  PROXMOX_MCP_INSTALL_DIR="$T/install" PROXMOX_MCP_UPDATE_DIR="$T/update" PROXMOX_MCP_ENV_FILE="$T/install/.env" \
    PROXMOX_MCP_HEALTH_TIMEOUT=4 PROXMOX_MCP_COMPOSE="$T/fake-compose" bash "$UPDATER" >>"$T/updater.log" 2>&1 || true
}
now() { date -u +%Y-%m-%dT%H:%M:%S.000Z; }
update_request() { # ID TARGET [PREVIOUS]
  printf '{"id":"%s","action":"update","target_tag":"%s","previous_tag":"%s","requested_at":"%s","requested_by":"admin"}' "$1" "$2" "${3:-v0.1.0}" "$(now)"
}
check_request() { printf '{"id":"%s","action":"check","requested_at":"%s","requested_by":"admin"}' "$1" "$(now)"; }
update() { printf '%s' "$1" >"$T/update/request.json"; run_updater; }   # REQUEST-JSON, as the path unit would
ask() { printf '%s' "$1" >"$T/update/check-request.json"; run_updater; } # REQUEST-JSON
# field FILE EXPRESSION: a value from an answer, e.g. field result.json '$d->{status}'
field() { perl -MJSON::PP -0777 -ne "my \$d = decode_json(\$_); print $2" "$T/update/$1"; }
result() { field result.json '"$d->{id} $d->{status} $d->{version}"'; }
keys_of() { field "$1" 'join(",", sort keys %$d)'; }
refused() { # FILE ID PATTERN: answered failed, the message matching PATTERN
  [[ "$(field "$1" '"$d->{id} $d->{status}"')" == "$2 failed" ]] && field "$1" '$d->{message}' | grep -Eq "$3"
}
at() { git -C "$T/install" describe --tags --exact-match; }

echo "check"
release v0.5.0-rc.1 0.5.0-rc.1 # published after the install was cloned: only a fetch shows it
ask "$(check_request c1)"
check "check: tags.json has exactly the protocol's keys" test "$(keys_of tags.json)" == "checked_out_commit,checked_out_tag,finished_at,id,message,status,tags"
check "check: the release tags after a fetch, newest first" test "$(field tags.json '"$d->{id} $d->{status} @{$d->{tags}}"')" == "c1 ok v0.5.0-rc.1 v0.4.0 v0.3.0 v0.2.0 v0.1.0"
check "check: the checked-out tag and commit" test "$(field tags.json '"$d->{checked_out_tag} $d->{checked_out_commit}"')" == "v0.1.0 $(git -C "$T/install" rev-parse HEAD)"
check "check: the request was consumed, no result.json written" test ! -e "$T/update/check-request.json" -a ! -e "$T/update/result.json"
ask '{"id":"c2","action":"check","requested_at":"2026-01-01T00:00:00Z","requested_by":"admin","target_tag":"v0.2.0"}'
check "check: an unknown field is refused" refused tags.json c2 'unknown field\(s\) target_tag'
ask "$(update_request c3 v0.2.0)"
check "check: an update request in check-request.json is refused" refused tags.json c3 'unknown field|action must be "check"'
mv "$T/origin" "$T/origin.away"
ask "$(check_request c4)"
check "check: a failed fetch is failed, with the tags known before" bash -c "[[ \"\$(perl -MJSON::PP -0777 -ne 'my \$d = decode_json(\$_); print \"\$d->{status} \$d->{tags}[0]\"' '$T/update/tags.json')\" == 'failed v0.5.0-rc.1' ]] && grep -q 'git fetch --tags failed' '$T/update/tags.json'"
mv "$T/origin.away" "$T/origin"

echo "update"
update "$(update_request u1 v0.2.0)"
check "v0.1.0 -> v0.2.0: ok, version 0.2.0" test "$(result)" == "u1 ok 0.2.0"
check "result.json has exactly the protocol's keys" test "$(keys_of result.json)" == "finished_at,id,message,status,version"
check "the checkout is at v0.2.0 and the new version is running" test "$(at) $(cat "$T/running")" == "v0.2.0 0.2.0"
check "the request was consumed" test ! -e "$T/update/request.json"
check "the build got GIT_COMMIT and GIT_TAG of the checkout" grep -q "GIT_COMMIT=$(git -C "$T/install" rev-parse 'v0.2.0^{commit}') GIT_TAG=v0.2.0\$" "$T/compose.log"

update "$(update_request u2 v0.3.0 v0.2.0)"
check "a release that never gets healthy is rolled back" test "$(result)" == "u2 rolled_back 0.2.0"
check "back on v0.2.0, running" test "$(at) $(cat "$T/running")" == "v0.2.0 0.2.0"

update "$(update_request u3 v0.1.0 v0.2.0)"
check "a downgrade to a given tag: ok, version 0.1.0 (not the newest)" test "$(result) $(at) $(cat "$T/running")" == "u3 ok 0.1.0 v0.1.0 0.1.0"
update "$(update_request u4 v0.2.0)"
check "and up again to v0.2.0" test "$(result) $(at)" == "u4 ok 0.2.0 v0.2.0"

ask "$(check_request c5)"
update "$(update_request u5 v0.1.0 v0.2.0)"
check "a check does not touch result.json" test "$(result)" == "u5 ok 0.1.0"
printf '%s' "$(check_request c6)" >"$T/update/check-request.json"
printf '%s' "$(update_request u6 v0.2.0)" >"$T/update/request.json"
run_updater
check "a check and an update waiting together: both answered" test "$(field tags.json '"$d->{id} $d->{checked_out_tag}"') $(result)" == "c6 v0.1.0 u6 ok 0.2.0"

echo "refusals"
update '{"id":"r1","version":"v0.1.0"}'
check "the old dialect ({\"version\": ...}) is refused, not read as the newest" bash -c "$(declare -f field refused); T='$T'; refused result.json r1 'unknown field\\(s\\) version' && test \"\$(git -C '$T/install' describe --tags)\" == v0.2.0"
update '{"id":"r2","action":"update","target_tag":"v0.1.0"}'
check "missing fields are refused" refused result.json r2 'missing field\(s\) previous_tag requested_at requested_by'
update "$(check_request r3)"
check "a check in request.json is refused" refused result.json r3 'action must be "update"'
update '{"id":"r4","action":"downgrade","target_tag":"v0.1.0","previous_tag":"v0.2.0","requested_at":"2026-01-01T00:00:00Z","requested_by":"admin"}'
check "an unknown action is refused" refused result.json r4 'action must be "update" in request.json, not "downgrade"'
update '{"id":"r5","action":"update","target_tag":"v0.1.0","previous_tag":"v0.2.0","requested_at":"2026-01-01T00:00:00Z","requested_by":7}'
check "a value that is not a string is refused" refused result.json r5 'requested_by must be a string'
update "$(update_request r6 main)"
check "a branch name is refused" refused result.json r6 'target_tag "main" is not a release tag'
update "$(update_request r7 v9.9.9)"
check "a release that does not exist is refused" refused result.json r7 'no release v9.9.9'
update "$(update_request r8 '--upload-pack=touch /tmp/x')"
check "an option-looking tag is refused" refused result.json r8 'is not a release tag'
update "$(update_request r9 v0.4.0)"
check "a release whose package.json has another version is refused" refused result.json r9 "says version '0.3.9'"
update '{"id":"r10","action":"update","target_tag":"v0.1.0","previous_tag":"v0.2.0","requested_at":"yesterday","requested_by":"admin"}'
check "a requested_at that is not ISO 8601 UTC is refused" refused result.json r10 'requested_at must be'
update 'not json'
check "a request that is not JSON is refused, with an empty id" refused result.json '' 'not JSON'
check "after all refusals: still on v0.2.0" test "$(at) $(cat "$T/running")" == "v0.2.0 0.2.0"

echo secret >"$T/outside"
ln -s "$T/outside" "$T/update/request.json"
run_updater
check "a symlinked request is refused and removed" bash -c "grep -q 'plain file' '$T/update/result.json' && test ! -L '$T/update/request.json'"
ln -s "$T/outside" "$T/update/check-request.json"
run_updater
check "a symlinked check request is refused and removed" bash -c "grep -q 'plain file' '$T/update/tags.json' && test ! -L '$T/update/check-request.json'"

rm -f "$T/update/result.json" "$T/update/tags.json"
ln -s "$T/outside" "$T/update/result.json"
ln -s "$T/outside" "$T/update/tags.json"
update "$(update_request u7 v0.2.0)"
ask "$(check_request c7)"
check "planted answer symlinks are replaced, not followed" bash -c "test \"\$(cat '$T/outside')\" == secret && test ! -L '$T/update/result.json' && test ! -L '$T/update/tags.json'"
check "already at the release: ok without rebuilding" bash -c "grep -q 'already at v0.2.0' '$T/update/result.json'"

echo '// local edit' >>"$T/install/package.json"
update "$(update_request u8 v0.1.0)"
check "a checkout with local changes is refused" bash -c "grep -q 'local changes' '$T/update/result.json' && test \"\$(git -C '$T/install' describe --tags)\" == v0.2.0"

summary
((FAIL == 0))
