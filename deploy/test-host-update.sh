#!/usr/bin/env bash
# shellcheck disable=SC2016 # the single-quoted arguments of field() are perl expressions, expanded by perl
# Test of deploy/host-update.sh (the host half of self_update and check_updates; the protocol is
# lib/self/update-protocol.ts) with a real git checkout, releases signed with an SSH key pinned the way
# setup.sh pins it, and a stand-in for `docker compose` (PROXMOX_MCP_COMPOSE): "building" a version makes a
# local /health server report the version in the checkout's package.json; version 0.3.0 is broken (its
# /health never reports it).
#
# Run as root (CI: deploy/ci-steps.sh): the update dir belongs to the "container" user (UID 10001) as on a
# host, answers go to a root-owned directory, and every attack a compromised container can make on the
# shared directory is played: symlinks planted as the request, as an answer or as the whole update dir, a
# hard link to a root file, a FIFO, an oversized request and a link to one; and the release attacks:
# unsigned, lightweight, wrongly signed, moved and downgraded tags, and compose files that ask for more.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
UPDATER="$REPO/deploy/host-update.sh"
[[ "$(id -u)" == 0 ]] || { echo "test-host-update: run as root (requests must belong to another user, as on a host)" >&2; exit 1; }
T="$(mktemp -d /tmp/pmcp-test-update.XXXXXX)"
chmod 0755 "$T"
HEALTH_PID=''
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() { if [[ -n "$HEALTH_PID" ]]; then kill "$HEALTH_PID" 2>/dev/null || true; fi; if [[ "${KEEP_TEST_DIR:-0}" == 1 ]]; then echo "kept $T"; else rm -rf "$T"; fi; }
trap cleanup EXIT
# shellcheck source=deploy/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"
CUID=10001

# The release-signing key (the project's), pinned on the "host" as setup.sh does: an allowed-signers file.
ssh-keygen -q -t ed25519 -N '' -C release -f "$T/release-key"
ssh-keygen -q -t ed25519 -N '' -C intruder -f "$T/other-key"
printf 'release@proxmox-mcp %s\n' "$(cut -d' ' -f1,2 "$T/release-key.pub")" >"$T/release-signers"
chmod 0644 "$T/release-signers"

# An origin with releases (v0.4.0's package.json says another version), and the install checkout at the first.
git init -q -b main "$T/origin"
cp "$REPO/docker-compose.yml" "$T/origin/docker-compose.yml"
commit() { git -C "$T/origin" add -A && git -C "$T/origin" -c user.name=t -c user.email=t@example.invalid commit -q -m "$1"; }
sign() { # TAG [KEY]: a signed annotated tag at HEAD
  git -C "$T/origin" -c user.name=t -c user.email=t@example.invalid -c gpg.format=ssh -c "user.signingkey=${2:-$T/release-key}" tag -s -m "$1" "$1"
}
release() { # TAG VERSION [KEY]
  printf '{"name":"proxmox-mcp","version":"%s"}\n' "$2" >"$T/origin/package.json"
  commit "release $1"
  sign "$1" "${3:-}"
}
release v0.1.0 0.1.0
release v0.2.0 0.2.0
release v0.3.0 0.3.0
release v0.4.0 0.3.9
git clone -q "$T/origin" "$T/install"
git -C "$T/install" -c advice.detachedHead=false checkout -q v0.1.0

port="$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')"
printf 'MCP_HOST=127.0.0.1\nMCP_PORT=%s\n' "$port" >"$T/install.env"
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
# The shared update dir belongs to the container's UID (as setup.sh makes it); answers and state are root's.
mkdir -p "$T/update"
chown "$CUID:$CUID" "$T/update"
chmod 0750 "$T/update"
UPDATE="$T/update" ANSWERS="$T/state/answers"

run_updater() {
  PROXMOX_MCP_INSTALL_DIR="$T/install" PROXMOX_MCP_UPDATE_DIR="$UPDATE" PROXMOX_MCP_ENV_FILE="$T/install.env" \
    PROXMOX_MCP_STATE_DIR="$T/state" PROXMOX_MCP_SIGNERS="$T/release-signers" PROXMOX_MCP_CONTAINER_UID="$CUID" \
    PROXMOX_MCP_HEALTH_TIMEOUT=4 PROXMOX_MCP_COMPOSE="$T/fake-compose" bash "$UPDATER" >>"$T/updater.log" 2>&1 || true
}
now() { date -u +%Y-%m-%dT%H:%M:%S.000Z; }
update_request() { # ID TARGET [PREVIOUS]
  printf '{"id":"%s","action":"update","target_tag":"%s","previous_tag":"%s","requested_at":"%s","requested_by":"admin"}' "$1" "$2" "${3:-v0.1.0}" "$(now)"
}
check_request() { printf '{"id":"%s","action":"check","requested_at":"%s","requested_by":"admin"}' "$1" "$(now)"; }
as_container() { # FILE CONTENT: written as the container would (its UID owns it)
  printf '%s' "$2" >"$UPDATE/$1"
  chown "$CUID:$CUID" "$UPDATE/$1"
}
update() { as_container request.json "$1"; run_updater; }   # REQUEST-JSON, as the path unit would
ask() { as_container check-request.json "$1"; run_updater; } # REQUEST-JSON
# field FILE EXPRESSION: a value from an answer, e.g. field result.json '$d->{status}'
field() { perl -MJSON::PP -0777 -ne "my \$d = decode_json(\$_); print $2" "$ANSWERS/$1"; }
result() { field result.json '"$d->{id} $d->{status} $d->{version}"'; }
keys_of() { field "$1" 'join(",", sort keys %$d)'; }
refused() { # FILE ID PATTERN: answered failed, the message matching PATTERN
  [[ "$(field "$1" '"$d->{id} $d->{status}"')" == "$2 failed" ]] && field "$1" '$d->{message}' | grep -Eq "$3"
}
at() { git -C "$T/install" describe --tags --exact-match; }
root_files_in_update_dir() { find "$UPDATE" -mindepth 1 -uid 0 -printf '%P\n' 2>/dev/null | paste -sd' ' -; }

section "check"
release v0.5.0-rc.1 0.5.0-rc.1 # published after the install was cloned: only a fetch shows it
ask "$(check_request c1)"
check "check: tags.json has exactly the protocol's keys" test "$(keys_of tags.json)" == "checked_out_commit,checked_out_tag,finished_at,id,message,status,tags"
check "check: the release tags after a fetch, newest first" test "$(field tags.json '"$d->{id} $d->{status} @{$d->{tags}}"')" == "c1 ok v0.5.0-rc.1 v0.4.0 v0.3.0 v0.2.0 v0.1.0"
check "check: the checked-out tag and commit" test "$(field tags.json '"$d->{checked_out_tag} $d->{checked_out_commit}"')" == "v0.1.0 $(git -C "$T/install" rev-parse HEAD)"
check "check: the request was consumed, no result.json written" test ! -e "$UPDATE/check-request.json" -a ! -e "$ANSWERS/result.json"
check "answers are in the root-owned answer dir (0755), readable by all, 0644" bash -c "[[ \"\$(stat -c '%u %a' '$ANSWERS' '$ANSWERS/tags.json' | paste -sd' ')\" == '0 755 0 644' ]]"
ask '{"id":"c2","action":"check","requested_at":"2026-01-01T00:00:00Z","requested_by":"admin","target_tag":"v0.2.0"}'
check "check: an unknown field is refused" refused tags.json c2 'unknown field\(s\) target_tag'
ask "$(update_request c3 v0.2.0)"
check "check: an update request in check-request.json is refused" refused tags.json c3 'unknown field|action must be "check"'
mv "$T/origin" "$T/origin.away"
ask "$(check_request c4)"
check "check: a failed fetch is failed, with the tags known before" bash -c "[[ \"\$(perl -MJSON::PP -0777 -ne 'my \$d = decode_json(\$_); print \"\$d->{status} \$d->{tags}[0]\"' '$ANSWERS/tags.json')\" == 'failed v0.5.0-rc.1' ]] && grep -q 'git fetch --tags failed' '$ANSWERS/tags.json'"
mv "$T/origin.away" "$T/origin"

section "update"
update "$(update_request u1 v0.2.0)"
check "v0.1.0 -> v0.2.0: ok, version 0.2.0" test "$(result)" == "u1 ok 0.2.0"
check "result.json has exactly the protocol's keys" test "$(keys_of result.json)" == "finished_at,id,message,status,version"
check "the checkout is at v0.2.0 and the new version is running" test "$(at) $(cat "$T/running")" == "v0.2.0 0.2.0"
check "the request was consumed" test ! -e "$UPDATE/request.json"
check "the build got GIT_COMMIT and GIT_TAG of the checkout" grep -q "GIT_COMMIT=$(git -C "$T/install" rev-parse 'v0.2.0^{commit}') GIT_TAG=v0.2.0\$" "$T/compose.log"
check "the verified tag object is pinned in the updater's own state" grep -qx "v0.2.0 $(git -C "$T/install" rev-parse v0.2.0)" "$T/state/tags"

update "$(update_request u2 v0.3.0 v0.2.0)"
check "a release that never gets healthy is rolled back" test "$(result)" == "u2 rolled_back 0.2.0"
check "back on v0.2.0, running" test "$(at) $(cat "$T/running")" == "v0.2.0 0.2.0"

section "downgrades need the admin on the host"
update "$(update_request d1 v0.1.0 v0.2.0)"
check "a downgrade asked for in the request alone is refused" refused result.json d1 'a downgrade needs the admin on the host'
check "still on v0.2.0" test "$(at)" == v0.2.0
echo v0.1.0 >"$T/state/allow-downgrade"
chown "$CUID" "$T/state/allow-downgrade"
update "$(update_request d2 v0.1.0 v0.2.0)"
check "a flag file not owned by root does not allow it" refused result.json d2 'a downgrade needs the admin'
chown 0 "$T/state/allow-downgrade"
echo v0.0.9 >"$T/state/allow-downgrade"
update "$(update_request d3 v0.1.0 v0.2.0)"
check "a flag for another tag does not allow it" refused result.json d3 'a downgrade needs the admin'
echo v0.1.0 >"$T/state/allow-downgrade"
update "$(update_request d4 v0.1.0 v0.2.0)"
check "with root's flag naming the tag: ok, version 0.1.0" test "$(result) $(at) $(cat "$T/running")" == "d4 ok 0.1.0 v0.1.0 0.1.0"
check "the flag is used once" test ! -e "$T/state/allow-downgrade"
update "$(update_request u4 v0.2.0)"
check "and up again to v0.2.0 (no flag needed)" test "$(result) $(at)" == "u4 ok 0.2.0 v0.2.0"

ask "$(check_request c5)"
echo v0.1.0 >"$T/state/allow-downgrade"
update "$(update_request u5 v0.1.0 v0.2.0)"
check "a check does not touch result.json" test "$(result)" == "u5 ok 0.1.0"
as_container check-request.json "$(check_request c6)"
as_container request.json "$(update_request u6 v0.2.0)"
run_updater
check "a check and an update waiting together: both answered" test "$(field tags.json '"$d->{id} $d->{checked_out_tag}"') $(result)" == "c6 v0.1.0 u6 ok 0.2.0"

section "unverified releases are refused before anything changes"
release v0.6.0 0.6.0 "$T/other-key"
update "$(update_request s1 v0.6.0 v0.2.0)"
check "a tag signed by a key that is not pinned is refused" refused result.json s1 'not signed by a key in'
printf '{"name":"proxmox-mcp","version":"0.7.0"}\n' >"$T/origin/package.json"
commit "release v0.7.0"
git -C "$T/origin" -c user.name=t -c user.email=t@example.invalid tag -a -m "unsigned" v0.7.0
update "$(update_request s2 v0.7.0 v0.2.0)"
check "an unsigned annotated tag is refused" refused result.json s2 'not signed with an SSH key'
printf '{"name":"proxmox-mcp","version":"0.8.0"}\n' >"$T/origin/package.json"
commit "release v0.8.0"
git -C "$T/origin" tag v0.8.0
update "$(update_request s3 v0.8.0 v0.2.0)"
check "a lightweight tag is refused" refused result.json s3 'not a signed \(annotated\) tag'
mv "$T/release-signers" "$T/release-signers.away"
release v0.9.0 0.9.0
update "$(update_request s4 v0.9.0 v0.2.0)"
check "with no key pinned nothing is updated" refused result.json s4 'no release-signing key is pinned'
mv "$T/release-signers.away" "$T/release-signers"
chmod 0666 "$T/release-signers"
update "$(update_request s5 v0.9.0 v0.2.0)"
check "a pinned-key file others can write is not trusted" refused result.json s5 'no release-signing key is pinned'
chmod 0644 "$T/release-signers"
check "after all of them: still v0.2.0, nothing built" test "$(at) $(cat "$T/running")" == "v0.2.0 0.2.0"

section "moved tags are refused"
# v0.9.0 re-pointed in origin (signed again, by the right key) after the host fetched it.
printf '{"name":"proxmox-mcp","version":"0.9.0","changed":true}\n' >"$T/origin/package.json"
commit "v0.9.0 again"
git -C "$T/origin" tag -d v0.9.0 >/dev/null
sign v0.9.0
update "$(update_request m1 v0.9.0 v0.2.0)"
check "a tag moved in origin: the fetch (without --force) refuses it, the update fails" refused result.json m1 'tag was moved in origin'
check "the local tag was not replaced" test "$(git -C "$T/install" rev-parse 'v0.9.0^{commit}')" != "$(git -C "$T/origin" rev-parse 'v0.9.0^{commit}')"
# Pinned: the host saw v0.2.0 as one object. Re-pointed in origin AND gone locally (so the fetch takes the
# new one without clobbering anything), the pin in the updater's own state still catches it.
git -C "$T/install" tag -d v0.9.0 >/dev/null # (the admin accepted origin's v0.9.0: the fetch passes again)
pinned_before="$(awk '$1 == "v0.2.0" { print $2 }' "$T/state/tags")"
git -C "$T/origin" tag -d v0.2.0 >/dev/null
git -C "$T/origin" -c user.name=t -c user.email=t@example.invalid -c gpg.format=ssh -c "user.signingkey=$T/release-key" tag -s -m v0.2.0 v0.2.0 'v0.1.0^{commit}'
git -C "$T/install" tag -d v0.2.0 >/dev/null
update "$(update_request m2 v0.2.0 v0.2.0)"
check "a tag whose object is not the one first seen is refused (pinned in the updater's state)" refused result.json m2 "v0.2.0 moved: it was $pinned_before"
check "nothing was checked out" test "$(git -C "$T/install" rev-parse HEAD)" == "$(git -C "$T/install" rev-parse "$pinned_before^{commit}")"
# Put the original tag back everywhere (the object is still in both repositories).
git -C "$T/origin" update-ref refs/tags/v0.2.0 "$pinned_before"
git -C "$T/install" update-ref refs/tags/v0.2.0 "$pinned_before"

section "a release whose compose file asks the host for more is refused"
compose_release() { # TAG VERSION SED-EXPRESSION|FILE=CONTENT
  git -C "$T/origin" checkout -q main
  cp "$REPO/docker-compose.yml" "$T/origin/docker-compose.yml"
  case "$3" in
    *=*) printf '%s\n' "${3#*=}" >"$T/origin/${3%%=*}" ;;
    *) sed -i "$3" "$T/origin/docker-compose.yml" ;;
  esac
  printf '{"name":"proxmox-mcp","version":"%s"}\n' "$2" >"$T/origin/package.json"
  commit "release $1"
  sign "$1"
  git -C "$T/origin" rm -q --cached --ignore-unmatch docker-compose.override.yml compose.yaml >/dev/null
  rm -f "$T/origin/docker-compose.override.yml" "$T/origin/compose.yaml"
}
n=0
for attack in 's/^    cap_drop: \[ALL\]/    privileged: true\n    cap_drop: [ALL]/' \
  's#^      - /var/log/proxmox-mcp:/var/log/proxmox-mcp#      - /var/log/proxmox-mcp:/var/log/proxmox-mcp\n      - /:/host#' \
  's/^    cap_drop: \[ALL\]/    cap_add: [SYS_ADMIN]/' \
  's/^    security_opt: \[no-new-privileges:true\]/    security_opt: [seccomp:unconfined]/' \
  's/^    read_only: true/    pid: host\n    read_only: true/' \
  's/^    read_only: true/    devices: [\/dev\/sda]\n    read_only: true/' \
  's/^    init: true/    init: true\n    <<: *escape/' \
  's/^services:/services:\n  evil: {image: alpine, privileged: true, volumes: ["\/:\/host"]}/' \
  's/^    init: true/    init: true\n    "privil\\x65ged": true/' \
  'docker-compose.override.yml=services: {proxmox-mcp: {privileged: true}}' \
  'compose.yaml=services: {proxmox-mcp: {image: busybox, volumes: ["/:/host"]}}'; do
  n=$((n + 1))
  compose_release "v1.$n.0" "1.$n.0" "$attack"
  update "$(update_request k$n "v1.$n.0" v0.2.0)"
  check "refused: ${attack:0:70}" refused result.json "k$n" 'compose file of v1\..* asks the host for something'
done
check "none of them was checked out or built" test "$(at) $(cat "$T/running")" == "v0.2.0 0.2.0"
compose_release v2.0.0 2.0.0 's/^# Upgrading, uninstalling/# (a comment changed) Upgrading, uninstalling/'
update "$(update_request k0 v2.0.0 v0.2.0)"
check "the same compose settings (a comment changed): updated" test "$(result) $(at)" == "k0 ok 2.0.0 v2.0.0"

section "what a compromised container can plant in the shared update dir"
echo secret >"$T/outside"
chmod 0600 "$T/outside"
ln -s "$T/outside" "$UPDATE/request.json"
run_updater
check "a symlinked request is refused, and only the link removed" bash -c "grep -q 'must be a plain file (not a symlink)' '$ANSWERS/result.json' && test ! -L '$UPDATE/request.json' && test \"\$(cat '$T/outside')\" == secret"
ln -s "$T/outside" "$UPDATE/check-request.json"
run_updater
check "a symlinked check request is refused and removed" bash -c "grep -q 'plain file' '$ANSWERS/tags.json' && test ! -L '$UPDATE/check-request.json'"
printf '%s' "$(update_request h1 v0.1.0)" >"$T/root-request.json"
ln "$T/root-request.json" "$UPDATE/request.json"
run_updater
check "a hard link to a root file (or a swap to one) is refused: not the container's" bash -c "grep -q 'must belong to the container user (uid $CUID), not uid 0' '$ANSWERS/result.json' && test -e '$T/root-request.json' && test \"\$(git -C '$T/install' describe --tags)\" == v2.0.0"
check "only the link in the update dir was removed (the path unit does not loop on it)" test ! -e "$UPDATE/request.json"
mkfifo "$UPDATE/request.json"
chown "$CUID" "$UPDATE/request.json"
started=$SECONDS
run_updater
check "a FIFO as the request does not hang the updater and is refused" bash -c "(( $SECONDS - $started < 20 )) && grep -q 'not a FIFO' '$ANSWERS/result.json' && test ! -e '$UPDATE/request.json'"
head -c 5000 /dev/zero | tr '\0' ' ' >"$UPDATE/request.json"
chown "$CUID" "$UPDATE/request.json"
run_updater
check "an oversized request is refused (size of the opened file)" grep -q 'larger than 4 KiB' "$ANSWERS/result.json"
head -c 100000 /dev/zero | tr '\0' ' ' >"$UPDATE/big"
chown -h "$CUID" "$UPDATE/big"
ln -s big "$UPDATE/request.json"
chown -h "$CUID" "$UPDATE/request.json"
run_updater
check "a link to an oversized file is refused as a link, never read" bash -c "grep -q 'not a symlink' '$ANSWERS/result.json' && test -e '$UPDATE/big'"
rm -f "$UPDATE/big"
for name in result.json tags.json .request.json.taken; do
  ln -s "$T/outside" "$UPDATE/$name"
  chown -h "$CUID:$CUID" "$UPDATE/$name"
done
update "$(update_request p1 v2.0.0)"
ask "$(check_request p2)"
check "links planted where answers and taken requests used to be are never touched" bash -c "test \"\$(cat '$T/outside')\" == secret && test -L '$UPDATE/result.json' && test -L '$UPDATE/.request.json.taken'"
check "the answers went to the answer dir" test "$(result) $(field tags.json '$d->{id}')" == "p1 ok 2.0.0 p2"
check "root wrote nothing into the update dir" test -z "$(root_files_in_update_dir)"
rm -f "$UPDATE/result.json" "$UPDATE/tags.json" "$UPDATE/.request.json.taken"

# A request swapped for a link to a root file and back, as fast as possible, while the updater runs: it either
# reads the container's own file or refuses; it never reads, answers with, or removes the root file.
printf 'secret-line-%s\n' {1..50} >"$T/outside"
chmod 0600 "$T/outside"
for i in 1 2 3 4 5; do
  ( end=$((SECONDS + 3))
    while ((SECONDS < end)); do
      printf '%s' "$(update_request "race$i" v2.0.0)" >"$UPDATE/.real" && chown "$CUID" "$UPDATE/.real" && mv -f "$UPDATE/.real" "$UPDATE/request.json" 2>/dev/null
      ln -sfn "$T/outside" "$UPDATE/.link" && mv -Tf "$UPDATE/.link" "$UPDATE/request.json" 2>/dev/null
    done ) &
  swapper=$!
  for _ in 1 2 3; do run_updater; done
  wait "$swapper" 2>/dev/null || true
  rm -f "$UPDATE/request.json" "$UPDATE/.real" "$UPDATE/.link"
done
check "swapping the request for a link while it is taken: the root file is never read, answered with or removed" \
  bash -c "! grep -rq secret-line '$ANSWERS' && [[ \$(wc -l <'$T/outside') == 50 ]] && ! grep -q secret-line '$T/updater.log'"
check "and nothing was installed from it" test "$(at)" == v2.0.0

# The whole update dir swapped for a link to a root directory holding a request.json.
mkdir -p "$T/rootdir"
printf '%s' "$(update_request w1 v0.1.0)" >"$T/rootdir/request.json"
mv "$UPDATE" "$T/update.real"
ln -s "$T/rootdir" "$UPDATE"
run_updater
check "an update dir swapped for a symlink is refused, nothing in it read or removed" bash -c "grep -q 'update dir .* is not a directory' '$ANSWERS/result.json' && test -e '$T/rootdir/request.json' && test \"\$(git -C '$T/install' describe --tags)\" == v2.0.0"
rm "$UPDATE"
mv "$T/update.real" "$UPDATE"

section "the answer dir and state must be root's"
chmod 0777 "$ANSWERS"
as_container check-request.json "$(check_request z1)"
run_updater
check "an answer dir others can write: the updater refuses to run" bash -c "grep -q 'refusing to run: .*answers is writable by others' '$T/updater.log' && test -e '$UPDATE/check-request.json'"
chmod 0755 "$ANSWERS"
mv "$ANSWERS" "$T/answers.real"
ln -s "$T/answers.real" "$ANSWERS"
run_updater
check "an answer dir that is a symlink: refused" grep -q 'refusing to run: .*answers is a symlink' "$T/updater.log"
rm "$ANSWERS"
mv "$T/answers.real" "$ANSWERS"
chown "$CUID" "$T/state"
run_updater
check "a state dir owned by the container user: refused" grep -q "refusing to run: .*state belongs to uid $CUID" "$T/updater.log"
chown 0 "$T/state"
run_updater
check "and back to normal: the waiting check is answered" test "$(field tags.json '$d->{id}')" == z1

section "refusals"
update '{"id":"r1","version":"v0.1.0"}'
check "the old dialect ({\"version\": ...}) is refused, not read as the newest" bash -c "$(declare -f field refused); ANSWERS='$ANSWERS'; refused result.json r1 'unknown field\\(s\\) version' && test \"\$(git -C '$T/install' describe --tags)\" == v2.0.0"
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
check "after all refusals: still on v2.0.0" test "$(at) $(cat "$T/running")" == "v2.0.0 2.0.0"
update "$(update_request u7 v2.0.0)"
check "already at the release: ok without rebuilding" bash -c "grep -q 'already at v2.0.0' '$ANSWERS/result.json'"

echo '// local edit' >>"$T/install/package.json"
echo v0.1.0 >"$T/state/allow-downgrade"
update "$(update_request u8 v0.1.0)"
check "a checkout with local changes is refused" bash -c "grep -q 'local changes' '$ANSWERS/result.json' && test \"\$(git -C '$T/install' describe --tags)\" == v2.0.0"

section "the unit"
if command -v systemd-analyze >/dev/null 2>&1; then
  mkdir -p "$T/units" "$T/libexec"
  install -m 0755 "$UPDATER" "$T/libexec/host-update.sh"
  for unit in proxmox-mcp-update.service proxmox-mcp-update.path; do
    sed -e "s|@INSTALL_DIR@|$T/install|g" -e "s|@UPDATE_DIR@|$UPDATE|g" -e "s|@STATE_DIR@|$T/state|g" -e "s|@SIGNERS@|$T/release-signers|g" \
      -e "s|@LIBEXEC_DIR@|$T/libexec|g" -e "s|@ENV_FILE@|$T/install.env|g" -e "s|@CONTAINER_UID@|$CUID|g" "$REPO/deploy/$unit" >"$T/units/$unit"
  done
  if out="$(cd "$T/units" && systemd-analyze verify --man=no proxmox-mcp-update.path proxmox-mcp-update.service 2>&1 | grep -v 'docker.service\|network-online\|Failed to prepare' || true)" && [[ -z "$out" ]]; then
    pass "systemd-analyze verify: the path and service units are clean"
  else
    printf '%s\n' "$out" | sed 's/^/        /'
    fail "systemd-analyze verify"
  fi
else
  echo "  note: systemd-analyze not available; the unit is only checked for its settings"
fi
for setting in NoNewPrivileges=yes ProtectSystem=strict ProtectHome=read-only PrivateTmp=yes MemoryMax=1G TimeoutStartSec=15min \
  'ReadWritePaths=@INSTALL_DIR@ @STATE_DIR@ @UPDATE_DIR@' RestrictSUIDSGID=yes CapabilityBoundingSet=; do
  check "unit: $setting" grep -q "^$setting" "$REPO/deploy/proxmox-mcp-update.service"
done

summary
((FAIL == 0))
