#!/usr/bin/env bash
# shellcheck disable=SC2016 # many checks are bash -c '...' on purpose: they expand when they run
# End-to-end test of setup.sh in a throwaway root (CI: deploy/ci-steps.sh; by hand: sudo bash deploy/test-setup.sh).
#
# How it stays throwaway: it re-runs itself in a private mount namespace (unshare -m) where /etc, /home,
# /var/log and /var/mail are bind-mounted copies/empties in a temp dir, so the real useradd, usermod,
# userdel and visudo/sudo work on copies and nothing outlives the test. Every other path setup.sh writes is
# redirected into the temp dir through its environment variables (ROOT, ENV_FILE, SERVER_*). /usr/bin and
# /usr/sbin get an overlay with stand-ins for qm, pct, pvesh... at their real paths, so `sudo -l -U` can
# check the installed allow-list rule by rule.
#
# The Proxmox side is real requests: the Proxmox VE simulator (node dist/bin/sim.js --https) serves the API,
# and deploy/shims/pveum turns setup.sh's pveum calls into the same API calls. Shims also stand in for
# pveversion, systemctl and docker.
#
# Checked: --dry-run changes nothing; a run creates the user, sudoers (visudo-clean, allow/deny table),
# SSH key and authorized_keys restrictions, known_hosts, Proxmox user/token (privsep) and ACLs, the
# fingerprint, .env, the updater units; the server started with that .env talks to the simulator with the
# new token and accepts the printed admin token (/health, MCP tools/list, one tool call); a second run
# changes nothing; ceilings can be switched; --uninstall --dry-run changes nothing; --uninstall removes
# everything, leaving the user database as it was.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"

if [[ "${1:-}" != --inside ]]; then
  [[ "$(id -u)" == 0 ]] || { echo "test-setup: run as root (it needs a private mount namespace)" >&2; exit 1; }
  for tool in unshare node curl openssl ssh-keygen perl visudo sudo useradd; do
    command -v "$tool" >/dev/null 2>&1 || { echo "test-setup: '$tool' is missing (deploy/ci-steps.sh installs what is needed)" >&2; exit 1; }
  done
  if [[ "${TEST_SETUP_SKIP_BUILD:-0}" != 1 ]]; then
    (cd "$REPO" && npm run build --silent)
  fi
  [[ -f "$REPO/dist/server.js" && -f "$REPO/dist/bin/sim.js" ]] || { echo "test-setup: dist/server.js or dist/bin/sim.js missing after the build" >&2; exit 1; }
  exec unshare --mount --propagation private -- bash "${BASH_SOURCE[0]}" --inside
fi

# ----------------------------------------------------------------------------------------------------------
# Inside the private mount namespace.
started=$SECONDS
T="$(mktemp -d /tmp/pmcp-test-setup.XXXXXX)"
PIDS=()
cleanup() {
  local pid
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  if [[ "${KEEP_TEST_DIR:-0}" == 1 ]]; then echo "test-setup: kept $T"; else rm -rf "$T"; fi
}
trap cleanup EXIT

# shellcheck source=deploy/test-lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/test-lib.sh"

section "throwaway root in $T"
mkdir -p "$T/etc" "$T/home" "$T/varlog" "$T/mail"
cp -a /etc/. "$T/etc/"
mount --bind "$T/etc" /etc
mount --bind "$T/home" /home
mount --bind "$T/varlog" /var/log
[[ -d /var/mail ]] && mount --bind "$T/mail" /var/mail
# Prove the bind mounts took before anything touches the user database.
marker=".pmcp-test-$$"
touch "/etc/$marker"
[[ -e "$T/etc/$marker" ]] || { echo "test-setup: /etc is not the private copy; refusing to go on" >&2; exit 1; }
rm -f "/etc/$marker"
pass "private mount namespace: /etc, /home, /var/log are copies"

SUDO_TABLE=1
overlay() {
  mkdir -p "$T/ov$1/upper" "$T/ov$1/work"
  mount -t overlay overlay -o "lowerdir=$1,upperdir=$T/ov$1/upper,workdir=$T/ov$1/work" "$1"
}
if overlay /usr/sbin && overlay /usr/bin; then
  for tool in qm pct pvesm ha-manager zpool zfs pveum; do install -m 0755 "$REPO/deploy/shims/guest-tool" "/usr/sbin/$tool"; done
  for tool in pvesh pveversion pvecm pvenode vzdump ceph; do install -m 0755 "$REPO/deploy/shims/guest-tool" "/usr/bin/$tool"; done
  [[ -e /usr/bin/systemctl ]] || install -m 0755 "$REPO/deploy/shims/guest-tool" /usr/bin/systemctl
  [[ -e /usr/bin/journalctl ]] || install -m 0755 "$REPO/deploy/shims/guest-tool" /usr/bin/journalctl
  pass "stand-ins for qm/pct/pvesh/... at their real paths (overlay)"
else
  SUDO_TABLE=0
  echo "  note: overlayfs not available here; the sudo allow/deny table is skipped (visudo -c still runs)"
fi

free_port() { node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'; }
wait_http() { # URL SECONDS
  local deadline=$((SECONDS + $2))
  while ((SECONDS < deadline)); do curl -ks -o /dev/null --max-time 2 "$1" && return 0; sleep 0.3; done
  return 1
}

section "Proxmox VE simulator"
SIM_PORT="$(free_port)"
SHIM_SECRET="$(head -c 18 /dev/urandom | base64 | tr '+/' '-_')"
# The simulator's built-in privileged token plays root@pam for the pveum shim (pveum runs as root on a host).
PVE_SIM_TOKEN_ID='setup-shim@pve!cli' PVE_SIM_TOKEN_SECRET="$SHIM_SECRET" \
  node "$REPO/dist/bin/sim.js" --port "$SIM_PORT" --https --task-ms 5 --auth-delay 0 >"$T/sim.log" 2>&1 &
PIDS+=($!)
wait_http "https://127.0.0.1:$SIM_PORT/api2/json/version" 20 || { cat "$T/sim.log"; echo "simulator did not start" >&2; exit 1; }
pass "simulator on https://127.0.0.1:$SIM_PORT"

export SHIM_PVE_URL="https://127.0.0.1:$SIM_PORT"
# pveversion reports the version the simulator plays (privilege names differ between 8 and 9).
SHIM_PVE_VERSION="$(curl -ks -H "Authorization: PVEAPIToken=setup-shim@pve!cli=$SHIM_SECRET" "$SHIM_PVE_URL/api2/json/version" | perl -MJSON::PP -0777 -ne 'print decode_json($_)->{data}{version}')"
export SHIM_PVE_VERSION
pass "it plays Proxmox VE $SHIM_PVE_VERSION"
export SHIM_PVE_AUTH="PVEAPIToken=setup-shim@pve!cli=$SHIM_SECRET"
export SHIM_LOG="$T/shim.log" SHIM_STATE_DIR="$T/shim-state"
export PATH="$REPO/deploy/shims:$PATH"
api() { curl -ks -H "Authorization: $SHIM_PVE_AUTH" "$SHIM_PVE_URL/api2/json$1"; }

# The host as setup.sh expects it: the node certificate (the one the simulator serves) and an SSH host key.
export ROOT="$T/root"
mkdir -p "$ROOT/etc/pve/local" "$ROOT/etc/ssh/sshd_config.d" "$ROOT/etc/systemd/system" "$ROOT/usr/local/lib" \
  "$ROOT/var/lib" "$ROOT/var/log" "$ROOT/var/backups" "$T/install"
openssl s_client -connect "127.0.0.1:$SIM_PORT" </dev/null 2>/dev/null | openssl x509 >"$ROOT/etc/pve/local/pve-ssl.pem"
ssh-keygen -q -t ed25519 -N '' -C root@testhost -f "$ROOT/etc/ssh/ssh_host_ed25519_key"
printf 'Include %s/etc/ssh/sshd_config.d/*.conf\nHostKey %s/etc/ssh/ssh_host_ed25519_key\nKbdInteractiveAuthentication no\nUsePAM yes\n' "$ROOT" "$ROOT" >"$ROOT/etc/ssh/sshd_config"
# The project's release-signing key, as an admin would pin it with --release-signers.
ssh-keygen -q -t ed25519 -N '' -C release -f "$T/release-key"
sim_fp="$(sed -n 's/.*TLS fingerprint (SHA-256): //p' "$T/sim.log")"

export INSTALL_DIR="$REPO" ENV_FILE="$T/install/.env" SUDOERS_DIR=/etc/sudoers.d SYSTEMD_DIR="$ROOT/etc/systemd/system"
export SERVER_CONFIG_DIR="$ROOT/etc/proxmox-mcp" SERVER_DATA_DIR="$ROOT/var/lib/proxmox-mcp" SERVER_BACKUP_DIR="$ROOT/var/backups/proxmox-mcp"
MCP_TEST_PORT="$(free_port)"
SETUP=(bash "$REPO/setup.sh" --non-interactive --listen 127.0.0.1 --port "$MCP_TEST_PORT" --proxmox-url "https://127.0.0.1:$SIM_PORT")
STATE="$ROOT/var/lib/proxmox-mcp-updater"

# Everything setup.sh can change, as one text: files (mode, owner, content), the user database, the
# simulator's users/tokens/roles/ACLs, and the units systemctl enabled.
snapshot() {
  {
    find "$ROOT" /etc/sudoers.d /home "$T/install" -printf '%p %m %u:%g\n' 2>/dev/null | sort || true
    find "$ROOT" /etc/sudoers.d /home "$T/install" -type f -exec sha256sum {} + 2>/dev/null | sort || true
    sha256sum /etc/passwd /etc/group /etc/shadow /etc/gshadow /etc/subuid /etc/subgid 2>/dev/null
    api '/access/users?full=1' | perl -MJSON::PP -0777 -ne 'my $d = decode_json($_)->{data}; for my $u (sort { $a->{userid} cmp $b->{userid} } @$d) { print "user $u->{userid} ", join(",", sort map { "$_->{tokenid}:" . ($_->{privsep} // "") } @{ $u->{tokens} // [] }), "\n" }'
    api /access/roles | perl -MJSON::PP -0777 -ne 'my $d = decode_json($_)->{data}; print "role $_->{roleid} ", join(",", sort split /,/, $_->{privs} // ""), "\n" for sort { $a->{roleid} cmp $b->{roleid} } @$d'
    api /access/acl | perl -MJSON::PP -0777 -ne 'my $d = decode_json($_)->{data}; print "acl $_->{path} $_->{type} $_->{ugid} $_->{roleid}\n" for @$d' | sort
    find "$SHIM_STATE_DIR/systemctl" -type f -printf 'enabled %f\n' 2>/dev/null | sort || true
  } >"$1"
}
acl_of() { api /access/acl | U="$1" perl -MJSON::PP -0777 -ne 'print "$_->{roleid}\n" for grep { $_->{ugid} eq $ENV{U} && $_->{path} eq "/" } @{ decode_json($_)->{data} }' | sort | paste -sd,; }
env_value() { awk -F= -v k="$1" '$1 == k { sub(/^[^=]*=/, ""); print }' "$ENV_FILE"; }
sudo_allows() { sudo -n -l -U proxmox-mcp "$@" >/dev/null 2>&1; }

snapshot "$T/snap.initial"

section "setup.sh --dry-run changes nothing"
"${SETUP[@]}" --ceiling operator --dry-run >"$T/dry.out" 2>&1 || { cat "$T/dry.out"; fail "dry run exited non-zero"; }
snapshot "$T/snap.after-dry"
if diff -u "$T/snap.initial" "$T/snap.after-dry"; then pass "nothing changed"; else fail "the dry run changed something (diff above)"; fi
check "it printed the actions it would take" grep -q '\[dry-run\] useradd' "$T/dry.out"
check "it printed the token creation" grep -q '\[dry-run\] pveum user token add proxmox-mcp@pve mcp --privsep 1' "$T/dry.out"

section "setup.sh --ceiling operator (first run)"
t0=$SECONDS
if "${SETUP[@]}" --ceiling operator --release-signers "$T/release-key.pub" >"$T/run1.out" 2>&1; then pass "exit 0 ($((SECONDS - t0)) s)"; else cat "$T/run1.out"; fail "setup.sh failed"; fi
check "host user proxmox-mcp with /bin/bash" bash -c '[[ "$(getent passwd proxmox-mcp | cut -d: -f7)" == /bin/bash ]]'
check "no usable password, not locked ('*')" bash -c '[[ "$(getent shadow proxmox-mcp | cut -d: -f2)" == "*" ]]'
check "sudoers drop-in 0440 root" bash -c '[[ "$(stat -c "%a %U" /etc/sudoers.d/proxmox-mcp)" == "440 root" ]]'
check "visudo -c accepts the whole sudoers" visudo -c
# Static: every command in the allow-list pins its arguments ("" = none, or an anchored ^...$), and no pvesh.
sudoers_exact() {
  perl -0777 -ne '
    s/\\\n//g;                                  # join continued lines
    my $bad = 0;
    for my $alias (/^Cmnd_Alias\s+\w+\s*=\s*(.+)$/mg) {
      for my $cmd (split /,\s+(?=\/)/, $alias) {
        if ($cmd !~ m{\A/\S+ (?:""|\^.*\$)\z}) { print "free arguments: $cmd\n"; $bad = 1 }
        if ($cmd =~ m{/pvesh\b}) { print "pvesh: $cmd\n"; $bad = 1 }
      }
    }
    exit $bad' /etc/sudoers.d/proxmox-mcp
}
check "static: every sudo rule has exact arguments, none is pvesh (operator)" sudoers_exact
check "SSH key 0600, owned by the container UID" bash -c "[[ \"\$(stat -c '%a %u' '$ROOT/etc/proxmox-mcp/ssh/id_ed25519')\" == '600 10001' ]]"
auth_keys="$ROOT/etc/ssh/proxmox-mcp/authorized_keys"
check "authorized_keys: restrict (no pty, no forwarding, no rc), from loopback only" \
  grep -q '^restrict,from="127.0.0.1,::1" ssh-ed25519 ' "$auth_keys"
check "authorized_keys holds the container's key, and only it" \
  bash -c "grep -qF '$(cut -d' ' -f2 "$ROOT/etc/proxmox-mcp/ssh/id_ed25519.pub")' '$auth_keys' && [[ \$(grep -vc '^#' '$auth_keys') == 1 ]]"
check "the key file is root's (0644) in a root directory (0755): the user cannot change it" \
  bash -c "[[ \"\$(stat -c '%a %U' '$auth_keys' '$ROOT/etc/ssh/proxmox-mcp' | paste -sd' ')\" == '644 root 755 root' ]]"
check "no ~/.ssh/authorized_keys of the user's own, and ~/.ssh is root's" \
  bash -c "test ! -e /home/proxmox-mcp/.ssh/authorized_keys && [[ ! -e /home/proxmox-mcp/.ssh || \"\$(stat -c %U /home/proxmox-mcp/.ssh)\" == root ]]"
check "the user cannot write the key file (runuser)" bash -c "chmod 0755 '$T' && ! runuser -u proxmox-mcp -- test -w '$auth_keys' && ! runuser -u proxmox-mcp -- test -w '$ROOT/etc/ssh/proxmox-mcp'"
dropin="$ROOT/etc/ssh/sshd_config.d/proxmox-mcp.conf"
check "sshd drop-in: a Match block for the user with that AuthorizedKeysFile" \
  bash -c "grep -qx 'Match User proxmox-mcp' '$dropin' && grep -qx '    AuthorizedKeysFile $auth_keys' '$dropin'"
if command -v sshd >/dev/null 2>&1; then
  effective="$(sshd -T -f "$ROOT/etc/ssh/sshd_config" -C user=proxmox-mcp,host=localhost,addr=127.0.0.1 2>&1 || true)"
  for setting in "authorizedkeysfile $auth_keys" "allowtcpforwarding no" "allowagentforwarding no" "allowstreamlocalforwarding no" \
    "x11forwarding no" "permittty no" "permittunnel no" "permituserrc no" "passwordauthentication no"; do
    check "sshd -T for proxmox-mcp: $setting" grep -qx "$setting" <<<"$effective"
  done
  other="$(sshd -T -f "$ROOT/etc/ssh/sshd_config" -C user=root,host=localhost,addr=127.0.0.1 2>&1 || true)"
  check "other users keep their own authorized_keys" bash -c "grep -q '^authorizedkeysfile .ssh/authorized_keys' <<<'$other'"
fi
check "known_hosts pins this host's ed25519 key for 127.0.0.1" \
  grep -qF "127.0.0.1,::1,localhost,$(hostname) $(cut -d' ' -f1,2 "$ROOT/etc/ssh/ssh_host_ed25519_key.pub")" "$ROOT/etc/proxmox-mcp/ssh/known_hosts"
check ".env is 0600 root" bash -c "[[ \"\$(stat -c '%a %U' '$ENV_FILE')\" == '600 root' ]]"
check ".env has the fingerprint the simulator serves" bash -c "[[ -n '$sim_fp' && \"\$(awk -F= '\$1==\"PROXMOX_TLS_FINGERPRINT\"{print \$2}' '$ENV_FILE')\" == '$sim_fp' ]]"
check ".env has the Proxmox token id" bash -c "grep -qx 'PROXMOX_TOKEN_ID=proxmox-mcp@pve!mcp' '$ENV_FILE'"
check ".env has a token secret" bash -c "[[ -n \"\$(awk -F= '\$1==\"PROXMOX_TOKEN_SECRET\"{print \$2}' '$ENV_FILE')\" ]]"
admin_token="$(env_value MCP_ADMIN_TOKEN)"
check ".env has an admin token: pmcp_ + 43 base64url characters" bash -c "[[ '$admin_token' =~ ^pmcp_[A-Za-z0-9_-]{43}\$ ]]"
printed="$(grep -o 'claude mcp add --transport http proxmox http://127.0.0.1:[0-9]*/mcp --header "Authorization: Bearer [^"]*"' "$T/run1.out" || true)"
check "it printed the exact Claude Code command" test -n "$printed"
# The command names a token made for Claude Code; the admin token itself is never printed.
check "the output never shows the admin token" bash -c "! grep -qF '$admin_token' '$T/run1.out'"
check "Proxmox user proxmox-mcp@pve exists" bash -c "$(declare -f api); api /access/users | grep -q '\"userid\":\"proxmox-mcp@pve\"'"
check "token mcp has privilege separation" bash -c "$(declare -f api); api /access/users/proxmox-mcp@pve/token/mcp | grep -q '\"privsep\":1'"
check "the user has ProxmoxMCPOperator on /" test "$(acl_of proxmox-mcp@pve)" == ProxmoxMCPOperator
check "the token has ProxmoxMCPOperator on /" test "$(acl_of 'proxmox-mcp@pve!mcp')" == ProxmoxMCPOperator
check "the operator role has power/snapshot/backup, no Sys.Modify/User.Modify/VM.Allocate" bash -c "$(declare -f api); privs=\$(api /access/roles/ProxmoxMCPOperator); [[ \$privs == *VM.PowerMgmt* && \$privs == *VM.Snapshot* && \$privs == *VM.Backup* && \$privs != *Sys.Modify* && \$privs != *User.Modify* && \$privs != *VM.Allocate* && \$privs != *Permissions.Modify* ]]"
check "the operator role cannot run commands in guests (no VM.Monitor, no agent exec/file privileges)" \
  bash -c "$(declare -f api); privs=\$(api /access/roles/ProxmoxMCPOperator); [[ \$privs != *VM.Monitor* && \$privs != *VM.GuestAgent.Unrestricted* && \$privs != *VM.GuestAgent.File* ]]"
check "release-signing key pinned (root, 0644) and the unit points at it" \
  bash -c "[[ \"\$(stat -c '%a %U' '$ROOT/etc/proxmox-mcp/release-signers')\" == '644 root' ]] && grep -qF '$(cut -d' ' -f2 "$T/release-key.pub")' '$ROOT/etc/proxmox-mcp/release-signers' && grep -qx 'Environment=PROXMOX_MCP_SIGNERS=$ROOT/etc/proxmox-mcp/release-signers' '$SYSTEMD_DIR/proxmox-mcp-update.service'"
check "the units have no placeholder left" bash -c "! grep -q '@[A-Z_]*@' '$SYSTEMD_DIR/proxmox-mcp-update.service' '$SYSTEMD_DIR/proxmox-mcp-update.path'"
check "the updater's state and answer dirs are root's, 0755" \
  bash -c "[[ \"\$(stat -c '%a %u' '$STATE' '$STATE/answers' | sort -u)\" == '755 0' ]]"
check "loopback: plain HTTP, no TLS settings" bash -c "grep -qx 'MCP_HOST=127.0.0.1' '$ENV_FILE' && ! grep -q '^MCP_TLS_' '$ENV_FILE'"
check "updater units installed with this install's paths" grep -q "ExecStart=$ROOT/usr/local/lib/proxmox-mcp/host-update.sh" "$SYSTEMD_DIR/proxmox-mcp-update.service"
check "the path unit watches the shared update dir" grep -qx "PathExists=$ROOT/var/lib/proxmox-mcp/update/request.json" "$SYSTEMD_DIR/proxmox-mcp-update.path"
check "proxmox-mcp-update.path enabled" test -e "$SHIM_STATE_DIR/systemctl/proxmox-mcp-update.path"
check "data/update/logs/backups owned by the container UID, 0750" \
  bash -c "[[ \"\$(stat -c '%a %u' $ROOT/var/lib/proxmox-mcp $ROOT/var/lib/proxmox-mcp/update $ROOT/var/log/proxmox-mcp $ROOT/var/backups/proxmox-mcp | sort -u)\" == '750 10001' ]]"
check "no secret in the output but the admin token line" bash -c "! grep -qF -- \"\$(awk -F= '\$1==\"PROXMOX_TOKEN_SECRET\"{print \$2}' '$ENV_FILE')\" '$T/run1.out'"

if ((SUDO_TABLE)); then
  section "sudo allow-list (operator)"
  for cmd in "/usr/bin/pveversion" "/usr/sbin/qm list" "/usr/sbin/qm status 100" "/usr/sbin/qm start 100" \
    "/usr/sbin/qm shutdown 100 --timeout 60" "/usr/sbin/qm snapshot 100 before-upgrade" "/usr/sbin/pct stop 105" "/usr/bin/pveversion -v" \
    "/usr/bin/vzdump 100 --mode snapshot --storage local --compress zstd" "/usr/bin/journalctl --no-pager -u pveproxy -n 50" \
    "/usr/bin/systemctl status pveproxy --no-pager" "/usr/sbin/zfs list -o name,used" "/usr/sbin/zpool status -x"; do
    # shellcheck disable=SC2086 # the command is split into words on purpose
    check "allows: $cmd" sudo_allows $cmd
  done
  for cmd in "/usr/sbin/qm start 100 --skiplock 1" "/usr/sbin/qm set 100 --hookscript local:snippets/x.sh" \
    "/usr/sbin/qm destroy 100" "/usr/sbin/qm guest exec 100 -- id" "/usr/sbin/qm monitor 100" "/usr/sbin/qm start 100;id" \
    "/usr/sbin/pct exec 105 -- id" "/usr/sbin/pct enter 105" "/usr/sbin/pct push 105 /etc/shadow /tmp/x" \
    "/usr/bin/pvesh set /access/users/root@pam --enable 0" "/usr/bin/pvesh create /access/users --userid x@pam" \
    "/usr/bin/pvesh delete /nodes/pve" "/usr/sbin/pveum user modify root@pam --enable 0" "/usr/sbin/pveum passwd root@pam" \
    "/usr/bin/vzdump 100 --script /tmp/x.sh" "/usr/bin/vzdump 100 --dumpdir /etc" "/usr/bin/systemctl restart pveproxy" \
    "/usr/bin/systemctl status pveproxy" "/usr/bin/journalctl -u pveproxy" "/usr/bin/env bash" "/bin/bash" \
    "/usr/bin/pvesh get /nodes --output-format json --noproxy 1 ; bash" \
    "/usr/bin/pvesh get /cluster/resources --type vm --output-format json" "/usr/bin/pvesh get /access/users/root@pam" \
    "/usr/bin/pvesh get /nodes/pve1/qemu/100/agent/file-read --file /etc/shadow" "/usr/bin/pvesh get /version" \
    "/usr/bin/pveversion --help" "/usr/bin/pveversion -Hx" "/usr/bin/pveversion -v -v" \
    "/usr/bin/systemctl --no-pager status -Hroot@other-node" "/usr/bin/systemctl status -Hroot@other-node --no-pager" \
    "/usr/bin/systemctl --no-pager status --host=root@x" "/usr/bin/journalctl --no-pager -u -Hx" \
    "/usr/sbin/pvesm list --output-format=json" "/usr/sbin/zpool status -x --help" "/usr/sbin/zfs list -o name -Hroot" \
    "/usr/bin/vzdump 100 --storage --script=/tmp/x"; do
    # shellcheck disable=SC2086
    if sudo_allows $cmd; then fail "refuses: $cmd"; else pass "refuses: $cmd"; fi
  done
fi

section "the server, started with the .env setup.sh wrote, against the simulator"
token_auth="Authorization: PVEAPIToken=$(env_value PROXMOX_TOKEN_ID)=$(env_value PROXMOX_TOKEN_SECRET)"
check "the new Proxmox token reads the cluster (privsep: user and token both granted)" \
  bash -c "curl -ksf -H '$token_auth' '$SHIM_PVE_URL/api2/json/cluster/resources' | grep -q '\"vmid\"'"
check "the new Proxmox token cannot create users (no User.Modify)" \
  bash -c "! curl -ksf -H '$token_auth' -X POST --data-urlencode userid=evil@pve '$SHIM_PVE_URL/api2/json/access/users'"
# shellcheck source=/dev/null
(set -a && . "$ENV_FILE" && set +a && exec node "$REPO/dist/server.js") >"$T/server.log" 2>&1 &
PIDS+=($!)
server_pid=$!
if wait_http "http://127.0.0.1:$MCP_TEST_PORT/health" 30; then pass "server up on 127.0.0.1:$MCP_TEST_PORT"; else fail "server did not start"; tail -n 30 "$T/server.log"; fi
if node "$REPO/deploy/mcp-smoke.mjs" "http://127.0.0.1:$MCP_TEST_PORT" "$admin_token" --call >"$T/smoke.out" 2>&1; then
  sed 's/^/        /' "$T/smoke.out"
  pass "/health, 401 without token, tools/list and a tool call with the admin token from .env"
else
  sed 's/^/        /' "$T/smoke.out"
  tail -n 30 "$T/server.log"
  fail "MCP smoke test with the admin token from .env"
fi
kill "$server_pid" 2>/dev/null || true
wait "$server_pid" 2>/dev/null || true

section "second run changes nothing (idempotent)"
snapshot "$T/snap.run1"
if "${SETUP[@]}" --ceiling operator >"$T/run2.out" 2>&1; then pass "exit 0"; else cat "$T/run2.out"; fail "second run failed"; fi
snapshot "$T/snap.run2"
if diff -u "$T/snap.run1" "$T/snap.run2"; then pass "same files, users, token, roles, ACLs"; else fail "the second run changed something (diff above)"; fi
check "the admin token was kept" test "$(env_value MCP_ADMIN_TOKEN)" == "$admin_token"
check "it wrote nothing" bash -c "! grep -q '  ok wrote' '$T/run2.out'"

section "changing the ceiling"
"${SETUP[@]}" --ceiling read-only >"$T/ro.out" 2>&1 || { cat "$T/ro.out"; fail "read-only run failed"; }
check "read-only: token has PVEAuditor only" test "$(acl_of 'proxmox-mcp@pve!mcp')" == PVEAuditor
check "read-only: user has PVEAuditor only" test "$(acl_of proxmox-mcp@pve)" == PVEAuditor
check "read-only: sudoers has no guest commands" bash -c "! grep -q PMCP_GUEST /etc/sudoers.d/proxmox-mcp"
check "static: every sudo rule has exact arguments, none is pvesh (read-only)" sudoers_exact
if ((SUDO_TABLE)); then
  if sudo_allows /usr/sbin/qm start 100; then fail "read-only refuses qm start"; else pass "read-only refuses qm start"; fi
  check "read-only allows qm status" sudo_allows /usr/sbin/qm status 100
fi
"${SETUP[@]}" >"$T/keep.out" 2>&1 || { cat "$T/keep.out"; fail "run without --ceiling failed"; }
check "a run without --ceiling keeps the chosen one" test "$(acl_of 'proxmox-mcp@pve!mcp')" == PVEAuditor
"${SETUP[@]}" --ceiling admin >"$T/admin.out" 2>&1 || { cat "$T/admin.out"; fail "admin run failed"; }
check "static: every sudo rule has exact arguments, none is pvesh (admin)" sudoers_exact
check "admin: token has ProxmoxMCPAdmin (never PVEAdmin or Administrator)" test "$(acl_of 'proxmox-mcp@pve!mcp')" == ProxmoxMCPAdmin
check "admin: the role cannot grant rights or manage users (no Permissions.Modify, User.Modify, Group.Allocate, Sys.Console)" \
  bash -c "$(declare -f api); privs=\$(api /access/roles/ProxmoxMCPAdmin); [[ \$privs == *VM.Allocate* && \$privs != *Permissions.Modify* && \$privs != *User.Modify* && \$privs != *Group.Allocate* && \$privs != *Realm.Allocate* && \$privs != *Sys.Console* && \$privs != *Sys.Modify* ]]"
check "admin: the new token cannot give itself Administrator" \
  bash -c "! curl -ksf -H '$token_auth' -X PUT --data-urlencode path=/ --data-urlencode roles=Administrator --data-urlencode 'tokens=proxmox-mcp@pve!mcp' '$SHIM_PVE_URL/api2/json/access/acl'"
if ((SUDO_TABLE)); then
  check "admin allows systemctl restart pveproxy" sudo_allows /usr/bin/systemctl restart pveproxy
  check "admin allows qm migrate" sudo_allows /usr/sbin/qm migrate 100 pve2 --online
  if sudo_allows /usr/bin/systemctl restart pve-cluster; then fail "admin refuses restarting pve-cluster"; else pass "admin refuses restarting pve-cluster"; fi
fi

section "keys setup.sh did not install are removed by a re-run"
printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlantedPlantedPlantedPlantedPlantedPlanted0 planted\n' >>"$auth_keys"
mkdir -p /home/proxmox-mcp/.ssh
printf 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPlantedPlantedPlantedPlantedPlantedPlanted1 own\n' >/home/proxmox-mcp/.ssh/authorized_keys
"${SETUP[@]}" >"$T/rekey.out" 2>&1 || { cat "$T/rekey.out"; fail "re-run failed"; }
check "the planted key is gone from the root-owned file, the container's key is there" \
  bash -c "! grep -q planted '$auth_keys' && [[ \$(grep -vc '^#' '$auth_keys') == 1 ]]"
check "the user's own authorized_keys is gone" test ! -e /home/proxmox-mcp/.ssh/authorized_keys
# The user owns its home: ~/.ssh made a link to root's keys must not make setup.sh delete them.
mkdir -p "$T/rootssh" && echo 'root key' >"$T/rootssh/authorized_keys"
rm -rf /home/proxmox-mcp/.ssh && ln -s "$T/rootssh" /home/proxmox-mcp/.ssh
"${SETUP[@]}" >"$T/relink.out" 2>&1 || { cat "$T/relink.out"; fail "re-run with ~/.ssh a link failed"; }
check "a ~/.ssh symlink is not followed (root's file behind it stays)" bash -c "test -s '$T/rootssh/authorized_keys' && grep -q 'is a symlink' '$T/relink.out'"
rm -f /home/proxmox-mcp/.ssh

section "beyond loopback: HTTPS with a certificate setup.sh makes"
"${SETUP[@]}" --listen 192.0.2.10 >"$T/tls.out" 2>&1 || { cat "$T/tls.out"; fail "--listen 192.0.2.10 failed"; }
tls="$ROOT/etc/proxmox-mcp/tls"
check ".env has MCP_HOST and the certificate paths" \
  bash -c "grep -qx 'MCP_HOST=192.0.2.10' '$ENV_FILE' && grep -qx 'MCP_TLS_CERT=$ROOT/etc/proxmox-mcp/tls/cert.pem' '$ENV_FILE' && grep -qx 'MCP_TLS_KEY=$ROOT/etc/proxmox-mcp/tls/key.pem' '$ENV_FILE'"
check "certificate 0644 root, key 0640 root:10001, directory 0750 root:10001" \
  bash -c "[[ \"\$(stat -c '%a %u:%g' '$tls' '$tls/cert.pem' '$tls/key.pem' | paste -sd' ')\" == '750 0:10001 644 0:0 640 0:10001' ]]"
check "the certificate names the listen address" bash -c "openssl x509 -in '$tls/cert.pem' -noout -ext subjectAltName | grep -q 'IP Address:192.0.2.10'"
check "it printed the fingerprint, an https:// URL and NODE_EXTRA_CA_CERTS" \
  bash -c "grep -qF \"\$(openssl x509 -in '$tls/cert.pem' -noout -fingerprint -sha256 | sed 's/^.*=//')\" '$T/tls.out' && grep -q 'claude mcp add --transport http proxmox https://192.0.2.10:' '$T/tls.out' && grep -q NODE_EXTRA_CA_CERTS '$T/tls.out'"
fp_before="$(openssl x509 -in "$tls/cert.pem" -noout -fingerprint -sha256)"
"${SETUP[@]}" --listen 192.0.2.10 >"$T/tls2.out" 2>&1 || fail "second --listen run failed"
check "a re-run keeps the certificate" test "$(openssl x509 -in "$tls/cert.pem" -noout -fingerprint -sha256)" == "$fp_before"
"${SETUP[@]}" >"$T/back.out" 2>&1 || fail "back to loopback failed"
check "back on loopback: no TLS settings in .env" bash -c "grep -qx 'MCP_HOST=127.0.0.1' '$ENV_FILE' && ! grep -q '^MCP_TLS_' '$ENV_FILE'"

section "a lost token secret: the token is replaced"
perl -i -ne 'print unless /^PROXMOX_TOKEN_SECRET=/' "$ENV_FILE"
"${SETUP[@]}" >"$T/lost.out" 2>&1 || { cat "$T/lost.out"; fail "run after losing the secret failed"; }
check "a new secret is in .env" bash -c "[[ -n \"\$(awk -F= '\$1==\"PROXMOX_TOKEN_SECRET\"{print \$2}' '$ENV_FILE')\" ]]"
check "it said why" grep -q 'replacing the token' "$T/lost.out"

section "setup.sh --uninstall --dry-run changes nothing"
snapshot "$T/snap.before-uninstall"
"${SETUP[@]}" --uninstall --yes --purge --dry-run >"$T/undry.out" 2>&1 || { cat "$T/undry.out"; fail "uninstall dry run failed"; }
snapshot "$T/snap.after-undry"
if diff -u "$T/snap.before-uninstall" "$T/snap.after-undry"; then pass "nothing changed"; else fail "the uninstall dry run changed something"; fi
check "it printed the user removal" grep -q '\[dry-run\] userdel' "$T/undry.out"

section "setup.sh --uninstall --yes --purge"
if "${SETUP[@]}" --uninstall --yes --purge >"$T/uninstall.out" 2>&1; then pass "exit 0"; else cat "$T/uninstall.out"; fail "uninstall failed"; fi
check "host user gone" bash -c "! id proxmox-mcp"
check "its home gone" test ! -e /home/proxmox-mcp
check "sudoers drop-in gone" test ! -e /etc/sudoers.d/proxmox-mcp
check ".env gone" test ! -e "$ENV_FILE"
check "Proxmox user gone" bash -c "$(declare -f api); ! api /access/users | grep -q proxmox-mcp@pve"
check "no ACL left for it" test -z "$(acl_of proxmox-mcp@pve)$(acl_of 'proxmox-mcp@pve!mcp')"
check "operator role gone" bash -c "$(declare -f api); ! api /access/roles | grep -q ProxmoxMCPOperator"
check "updater disabled" test ! -e "$SHIM_STATE_DIR/systemctl/proxmox-mcp-update.path"
snapshot "$T/snap.final"
# What is left must be what was there before: the same files and the same user database.
if diff -u <(grep -v '^enabled ' "$T/snap.initial") <(grep -v '^enabled ' "$T/snap.final"); then
  pass "files, user database and Proxmox access are as before setup.sh ran"
else
  fail "something was left behind (diff above)"
fi

printf '\ntest-setup: %s s\n' "$((SECONDS - started))"
summary
((FAIL == 0))
