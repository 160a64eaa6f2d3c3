#!/usr/bin/env bash
# proxmox-mcp setup: prepares a Proxmox VE host for the proxmox-mcp container.
#
#   git clone <repo> /opt/proxmox-mcp && cd /opt/proxmox-mcp
#   ./setup.sh                      # then: docker compose up -d --build (with GIT_COMMIT/GIT_TAG; it prints how)
#
# Run as root on the Proxmox host. Safe to run again (it converges; secrets already made are kept).
#
#   --ceiling read-only|operator|admin   the most the server may ever do (Proxmox role + sudo list); default operator
#   --guest-exec                         operator ceiling: also allow running commands in guests through the agent
#                                        (VM.Monitor on PVE 8, VM.GuestAgent.Unrestricted on PVE 9); off by default
#   --listen ADDRESS                     where the server listens (MCP_HOST); default 127.0.0.1 (this host only).
#                                        Any other address gets HTTPS: a certificate setup.sh generates (its
#                                        SHA-256 fingerprint is printed), or --tls-cert/--tls-key
#   --tls-cert FILE --tls-key FILE       serve HTTPS with this certificate and key (PEM; e.g. the node's
#                                        /etc/pve/local/pveproxy-ssl.pem and .key); copied to /etc/proxmox-mcp/tls
#   --release-signers FILE               pin the keys that sign proxmox-mcp releases (SSH public keys, one per
#                                        line, or an allowed_signers file); self_update refuses anything else
#   --port PORT                          MCP_PORT; default 3001
#   --proxmox-url URL                    the Proxmox API; default https://127.0.0.1:8006
#   --dry-run                            print every action instead of doing it
#   --uninstall                          undo everything setup did (asks before deleting .env; --purge: data too)
#   --purge                              with --uninstall: also delete data, logs and backups
#   --yes                                answer yes to the questions (.env removal on --uninstall)
#   --non-interactive                    never ask; take the defaults
#
# What it does (docs/DEPLOYMENT.md explains each choice):
#   1. checks it is root on a Proxmox VE host, and which version
#   2. host user `proxmox-mcp` (no password, key login only) with a sudo allow-list checked by visudo
#   3. an ed25519 key for the container, authorised for that user only from loopback, no pty, no forwarding,
#      in a root-owned file sshd reads for that user only (/etc/ssh/proxmox-mcp/authorized_keys, through a
#      Match block in /etc/ssh/sshd_config.d/proxmox-mcp.conf that also turns forwarding off in sshd itself);
#      the host's own SSH key recorded in a known_hosts file so the container pins it
#   4. Proxmox user proxmox-mcp@pve and API token `mcp` (privilege separation on), with a role sized to the
#      ceiling granted to both the user and the token (the token gets the intersection)
#   5. the node certificate's SHA-256 fingerprint, for TLS pinning
#   6. .env (0600) with all of it and a random admin client token; prints the Claude Code command; beyond
#      loopback, the server's TLS certificate
#   7. the host-side updater (systemd path + service) that self_update asks to rebuild the container, with
#      the pinned release-signing keys it verifies every release tag with
#
# Every host path can be redirected through the environment (ROOT prefix, or each *_DIR / file variable
# below), so the whole script can run in a throwaway root: deploy/test-setup.sh does that in CI.
set -euo pipefail
umask 077

SCRIPT_DIR="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"

# ----- configuration (environment overrides are for tests and unusual layouts) -------------------------
ROOT="${ROOT:-}"
INSTALL_DIR="${INSTALL_DIR:-$SCRIPT_DIR}"
ENV_FILE="${ENV_FILE:-$INSTALL_DIR/.env}"
CONFIG_DIR="${CONFIG_DIR:-$ROOT/etc/proxmox-mcp}"
DATA_DIR="${DATA_DIR:-$ROOT/var/lib/proxmox-mcp}"
LOG_DIR="${LOG_DIR:-$ROOT/var/log/proxmox-mcp}"
BACKUP_DIR="${BACKUP_DIR:-$ROOT/var/backups/proxmox-mcp}"
SUDOERS_DIR="${SUDOERS_DIR:-$ROOT/etc/sudoers.d}"
SYSTEMD_DIR="${SYSTEMD_DIR:-$ROOT/etc/systemd/system}"
LIBEXEC_DIR="${LIBEXEC_DIR:-$ROOT/usr/local/lib/proxmox-mcp}"
# The updater's own state (root only) and its answers to the container (mounted read-only into it).
UPDATER_STATE_DIR="${UPDATER_STATE_DIR:-$ROOT/var/lib/proxmox-mcp-updater}"
SIGNERS_FILE="${SIGNERS_FILE:-$CONFIG_DIR/release-signers}"
# sshd reads the container's key for the host user from here (root-owned), through a Match block.
SSHD_CONFIG="${SSHD_CONFIG:-$ROOT/etc/ssh/sshd_config}"
SSHD_DROPIN_DIR="${SSHD_DROPIN_DIR:-$ROOT/etc/ssh/sshd_config.d}"
AUTH_KEYS_DIR="${AUTH_KEYS_DIR:-$ROOT/etc/ssh/proxmox-mcp}"
PVE_SSL_CERT="${PVE_SSL_CERT:-$ROOT/etc/pve/local/pve-ssl.pem}"
PVEPROXY_SSL_CERT="${PVEPROXY_SSL_CERT:-$ROOT/etc/pve/local/pveproxy-ssl.pem}"
SSH_HOST_KEY_PUB="${SSH_HOST_KEY_PUB:-$ROOT/etc/ssh/ssh_host_ed25519_key.pub}"
# The same places as the server sees them. In the container they are fixed (docker-compose.yml mounts the
# host paths above at these); a test that runs the server directly on the host points them at the host paths.
SERVER_CONFIG_DIR="${SERVER_CONFIG_DIR:-/etc/proxmox-mcp}"
SERVER_DATA_DIR="${SERVER_DATA_DIR:-/var/lib/proxmox-mcp}"
SERVER_BACKUP_DIR="${SERVER_BACKUP_DIR:-/var/backups/proxmox-mcp}"
# The image runs as this UID/GID (Dockerfile: ARG APP_UID/APP_GID); the host paths it writes belong to it.
CONTAINER_UID="${CONTAINER_UID:-10001}"
CONTAINER_GID="${CONTAINER_GID:-10001}"

SERVICE_USER=proxmox-mcp
PVE_USER=proxmox-mcp@pve
PVE_TOKEN=mcp
PVE_TOKEN_ID="$PVE_USER!$PVE_TOKEN"
OPERATOR_ROLE=ProxmoxMCPOperator
ADMIN_ROLE=ProxmoxMCPAdmin
KEY_MARKER=proxmox-mcp-container
SUDOERS_FILE="$SUDOERS_DIR/proxmox-mcp"
UNITS=(proxmox-mcp-update.path proxmox-mcp-update.service)

CEILING=''
GUEST_EXEC=0
LISTEN='127.0.0.1'
TLS_CERT_SRC=''
TLS_KEY_SRC=''
SIGNERS_SRC=''
MCP_PORT_VALUE=3001
PROXMOX_URL_VALUE="${PROXMOX_URL:-https://127.0.0.1:8006}"
DRY_RUN=0
UNINSTALL=0
PURGE=0
ASSUME_YES=0
INTERACTIVE=1
[[ -t 0 ]] || INTERACTIVE=0

# ----- output ----------------------------------------------------------------------------------------------
if [[ -t 1 ]]; then BOLD=$'\e[1m'; RED=$'\e[31m'; YELLOW=$'\e[33m'; GREEN=$'\e[32m'; RESET=$'\e[0m'
else BOLD=''; RED=''; YELLOW=''; GREEN=''; RESET=''; fi
step() { printf '\n%s==> %s%s\n' "$BOLD" "$*" "$RESET"; }
info() { printf '    %s\n' "$*"; }
ok() { printf '    %sok%s %s\n' "$GREEN" "$RESET" "$*"; }
warn() { printf '    %swarning:%s %s\n' "$YELLOW" "$RESET" "$*" >&2; }
die() { printf '%serror:%s %s\n' "$RED" "$RESET" "$*" >&2; exit 1; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

# ----- doing, or printing in --dry-run -----------------------------------------------------------------------
quoted() { local out='' arg; for arg in "$@"; do out+="$(printf '%q' "$arg") "; done; printf '%s' "${out% }"; }

# run COMMAND...: the one place where a command that changes the host is executed.
run() {
  if ((DRY_RUN)); then printf '    [dry-run] %s\n' "$(quoted "$@")"; return 0; fi
  "$@"
}

TMP_DIR="$(mktemp -d)"
trap 'rm -rf "$TMP_DIR"' EXIT

# put_file TMPFILE DEST MODE OWNER[:GROUP] [show]: install a file only when its content or mode differs.
put_file() {
  local src="$1" dest="$2" mode="$3" owner="$4" show="${5:-}"
  if [[ -f "$dest" ]] && cmp -s "$src" "$dest"; then
    if [[ "$(stat -c '%a %u:%g' "$dest")" == "$(printf '%o' "0$mode") $(owner_ids "$owner")" ]]; then
      ok "$dest unchanged"
      return 0
    fi
  fi
  if ((DRY_RUN)); then
    printf '    [dry-run] write %s (mode %s, owner %s)\n' "$dest" "$mode" "$owner"
    [[ "$show" == show ]] && sed 's/^/      | /' "$src"
    return 0
  fi
  install -D -m "$mode" -o "${owner%%:*}" -g "$(owner_group "$owner")" "$src" "$dest"
  ok "wrote $dest"
}
owner_group() { local o="$1"; if [[ "$o" == *:* ]]; then printf '%s' "${o#*:}"; else printf '%s' "$o"; fi; }
owner_ids() {
  local user="${1%%:*}" group
  group="$(owner_group "$1")"
  printf '%s:%s' "$(id -u "$user" 2>/dev/null || printf '%s' "$user")" "$(getent group "$group" | cut -d: -f3 || printf '%s' "$group")"
}

# ensure_dir PATH MODE UID GID
ensure_dir() {
  local path="$1" mode="$2" uid="$3" gid="$4"
  if [[ -d "$path" && "$(stat -c '%a %u %g' "$path")" == "$mode $uid $gid" ]]; then ok "$path"; return 0; fi
  run install -d -m "$mode" -o "$uid" -g "$gid" "$path"
  ((DRY_RUN)) || ok "$path (mode $mode, owner $uid:$gid)"
}

remove_path() {
  local path="$1"
  if [[ -e "$path" || -L "$path" ]]; then run rm -rf -- "$path"; ((DRY_RUN)) || ok "removed $path"; fi
}

confirm() {
  ((ASSUME_YES)) && return 0
  ((INTERACTIVE)) || return 1
  local answer
  read -r -p "    $1 [y/N] " answer
  [[ "$answer" =~ ^[Yy] ]]
}

# ----- arguments -------------------------------------------------------------------------------------------
while (($#)); do
  case "$1" in
    --ceiling) CEILING="${2:-}"; shift ;;
    --ceiling=*) CEILING="${1#*=}" ;;
    --listen) LISTEN="${2:-}"; shift ;;
    --listen=*) LISTEN="${1#*=}" ;;
    --guest-exec) GUEST_EXEC=1 ;;
    --tls-cert) TLS_CERT_SRC="${2:-}"; shift ;;
    --tls-cert=*) TLS_CERT_SRC="${1#*=}" ;;
    --tls-key) TLS_KEY_SRC="${2:-}"; shift ;;
    --tls-key=*) TLS_KEY_SRC="${1#*=}" ;;
    --release-signers) SIGNERS_SRC="${2:-}"; shift ;;
    --release-signers=*) SIGNERS_SRC="${1#*=}" ;;
    --port) MCP_PORT_VALUE="${2:-}"; shift ;;
    --port=*) MCP_PORT_VALUE="${1#*=}" ;;
    --proxmox-url) PROXMOX_URL_VALUE="${2:-}"; shift ;;
    --proxmox-url=*) PROXMOX_URL_VALUE="${1#*=}" ;;
    --dry-run) DRY_RUN=1 ;;
    --uninstall) UNINSTALL=1 ;;
    --purge) PURGE=1 ;;
    --yes | -y) ASSUME_YES=1 ;;
    --non-interactive) INTERACTIVE=0 ;;
    -h | --help) usage; exit 0 ;;
    *) die "unknown option '$1' (see ./setup.sh --help)" ;;
  esac
  shift
done

[[ -z "$CEILING" || "$CEILING" =~ ^(read-only|operator|admin)$ ]] || die "--ceiling must be read-only, operator or admin (got '$CEILING')"
if ! [[ "$MCP_PORT_VALUE" =~ ^[0-9]+$ ]] || ((MCP_PORT_VALUE < 1 || MCP_PORT_VALUE > 65535)); then die "--port must be 1-65535"; fi
[[ "$LISTEN" =~ ^[0-9A-Fa-f.:]+$ ]] || die "--listen must be an IP address (e.g. 0.0.0.0, 127.0.0.1 or one of this host's addresses)"
[[ "$PROXMOX_URL_VALUE" =~ ^https?://[^/[:space:]]+/?$ ]] || die "--proxmox-url must look like https://127.0.0.1:8006"
((PURGE)) && ! ((UNINSTALL)) && die "--purge only goes with --uninstall"
if [[ -n "$TLS_CERT_SRC" || -n "$TLS_KEY_SRC" ]]; then
  [[ -n "$TLS_CERT_SRC" && -n "$TLS_KEY_SRC" ]] || die "--tls-cert and --tls-key go together"
  [[ -s "$TLS_CERT_SRC" && -s "$TLS_KEY_SRC" ]] || die "--tls-cert/--tls-key: cannot read $TLS_CERT_SRC or $TLS_KEY_SRC"
fi
[[ -z "$SIGNERS_SRC" || -s "$SIGNERS_SRC" ]] || die "--release-signers: cannot read $SIGNERS_SRC"

# ----- checks ----------------------------------------------------------------------------------------------
PVE_MAJOR=0
check_host() {
  step "Checking the host"
  [[ "$(id -u)" == 0 ]] || die "run this as root on the Proxmox VE host (sudo ./setup.sh)"
  if ! command -v pveversion >/dev/null 2>&1 || ! command -v pveum >/dev/null 2>&1; then
    die "this is not a Proxmox VE host (pveversion/pveum not found). Run setup.sh on the Proxmox node itself."
  fi
  local version
  version="$(pveversion 2>/dev/null | head -n 1)"
  # pve-manager/8.4.1/2a5fa54a8503f96d (running kernel: 6.8.12-9-pve)
  [[ "$version" =~ ^pve-manager/([0-9]+)\.([0-9]+) ]] || die "cannot read the Proxmox VE version from pveversion: '$version'"
  PVE_MAJOR="${BASH_REMATCH[1]}"
  ok "$version"
  ((PVE_MAJOR >= 8)) || die "Proxmox VE $PVE_MAJOR is not supported: proxmox-mcp needs Proxmox VE 8 or later"
  local tool
  for tool in openssl ssh-keygen useradd install getent perl; do
    command -v "$tool" >/dev/null 2>&1 || die "'$tool' is missing on this host"
  done
  if ! ((UNINSTALL)) && ! command -v visudo >/dev/null 2>&1; then
    # Proxmox VE does not ship sudo; the restricted host user needs it.
    info "sudo is not installed; installing it (the host user's allow-list needs it)"
    run apt-get install -y --no-install-recommends sudo
    PACKAGES_INSTALLED=1
  fi
  if ! command -v docker >/dev/null 2>&1; then
    warn "docker is not installed; install Docker Engine with the compose plugin before 'docker compose up -d'"
  fi
}

# ----- 2. host user and sudo allow-list --------------------------------------------------------------------
ensure_host_user() {
  step "Host user '$SERVICE_USER' (what the container logs in as over SSH)"
  if id "$SERVICE_USER" >/dev/null 2>&1; then
    ok "user $SERVICE_USER exists"
  else
    run useradd --create-home --shell /bin/bash --comment "proxmox-mcp (SSH from the proxmox-mcp container)" "$SERVICE_USER"
    ((DRY_RUN)) || ok "created user $SERVICE_USER"
  fi
  # '*' = no password can ever match, yet the account is not "locked" ('!'), which sshd refuses even for keys.
  if [[ "$(getent shadow "$SERVICE_USER" 2>/dev/null | cut -d: -f2)" != '*' ]]; then
    run usermod --password '*' "$SERVICE_USER"
  else
    ok "no password (key login only)"
  fi
}

# The sudo allow-list. Rules:
#  * Proxmox changes go through the API with the token, where Proxmox ACLs and privilege separation apply.
#    sudo is only for what the API does not give: host status, logs, and guest power/snapshot/backup.
#  * Every argument is pinned by a regular expression anchored with ^...$ (sudo >= 1.9.10, which every
#    supported Proxmox VE has), so no rule takes extra options: a plain '*' wildcard in sudoers also
#    matches spaces and therefore any further argument (e.g. `qm start 100 --skiplock`, `vzdump --script`).
#    A command with no arguments is written with "" (sudoers: no arguments at all); a bare command name
#    would allow ANY arguments. No free value may start with '-' (a name, unit, pool or node is
#    [A-Za-z0-9_] first), so none can turn into an option (`systemctl status -Hroot@other-node`).
#  * No pvesh at all: root's pvesh is root@pam in the API (`pvesh get .../agent/file-read --file /etc/shadow`
#    reads any file in any guest). Everything pvesh could read, the server reads through its API token,
#    where the token's ACL applies.
#  * Nothing that can start a shell, edit a file, run a hook, exec into a guest or copy files to/from the
#    host: no shells, editors, pagers, pveum (users/tokens/root@pam), pvesh (any verb),
#    qm set/monitor/guest exec, pct exec/enter/push/pull/mount, apt, arbitrary systemctl units.
#  * Commands that page (systemctl, journalctl) must be called with --no-pager (and the SSH session has no pty).
sudoers_content() {
  local ceiling="$1"
  # Commas inside a sudoers argument must be escaped (\,). Repetition bounds are kept off nested groups:
  # glibc rejects (and sudo then never matches) regular expressions that grow too large.
  local vmid='[1-9][0-9]{2\,8}' snap='[A-Za-z][A-Za-z0-9_-]*' unit='[A-Za-z0-9_][A-Za-z0-9@_.-]*' name='[A-Za-z0-9_][A-Za-z0-9_.-]*'
  local node='[A-Za-z0-9][A-Za-z0-9-]*' pool='[A-Za-z0-9_][A-Za-z0-9_.\:-]*' dataset='[A-Za-z0-9_][A-Za-z0-9_./\:-]*'
  cat <<EOF
# proxmox-mcp: what the proxmox-mcp container may run as root over SSH (ceiling: $ceiling).
# Written by $INSTALL_DIR/setup.sh; removed by ./setup.sh --uninstall. Edits are overwritten by setup.sh.
# Why each line is here, and what is deliberately missing: see the comments in setup.sh (sudoers_content).
Defaults:$SERVICE_USER env_reset, !setenv, !lecture, secure_path="/usr/sbin:/usr/bin:/sbin:/bin"

# Read: versions, cluster, guests, storage, ZFS, Ceph, HA, certificates, services, logs.
Cmnd_Alias PMCP_READ = /usr/bin/pveversion "", /usr/bin/pveversion ^(-v|--verbose)\$, \\
  /usr/bin/pvecm ^(status|nodes|qdevice status)\$, \\
  /usr/sbin/qm ^list( --full( 1)?)?\$, /usr/sbin/qm ^(status|config|pending|listsnapshot) $vmid( --verbose( 1)?)?\$, \\
  /usr/sbin/pct ^list\$, /usr/sbin/pct ^(status|config|pending|listsnapshot) $vmid( --verbose( 1)?)?\$, \\
  /usr/sbin/pvesm ^(status|list $name)\$, \\
  /usr/sbin/ha-manager ^(status|config)\$, /usr/bin/pvenode ^cert info( --output-format json)?\$, \\
  /usr/sbin/zpool ^(list|status)( -[vxpHLP]+)*( $pool)?\$, \\
  /usr/sbin/zfs ^list( -[rHp]+| -o [a-z\,]+| -t [a-z\,]+)*( $dataset)?\$, \\
  /usr/bin/ceph ^(status|health( detail)?|df|osd (tree|df)|mon stat)( --format json)?\$, \\
  /usr/bin/systemctl ^--no-pager (status|show|is-active|is-enabled|is-failed) $unit\$, \\
  /usr/bin/systemctl ^(status|show|is-active|is-enabled|is-failed) $unit --no-pager\$, \\
  /usr/bin/journalctl ^--no-pager( -u $unit| -n [0-9]+| -p [0-7]| -b| -o (short|short-iso|json|cat)| --since (today|yesterday|-[0-9]+[smhd]))*\$
EOF
  if [[ "$ceiling" != read-only ]]; then
    cat <<EOF

# Guest power, snapshots and backups (operator and admin ceilings). One guest id, no options beyond these:
# vzdump takes only mode/storage/compress (not --script, --dumpdir or --exclude-path, which run or write as root).
Cmnd_Alias PMCP_GUEST = /usr/sbin/qm ^(start|shutdown|stop|reboot|suspend|resume|reset) $vmid\$, \\
  /usr/sbin/qm ^shutdown $vmid --timeout [0-9]+\$, \\
  /usr/sbin/qm ^(snapshot|delsnapshot|rollback) $vmid $snap\$, \\
  /usr/sbin/pct ^(start|shutdown|stop|reboot|suspend|resume) $vmid\$, \\
  /usr/sbin/pct ^shutdown $vmid --timeout [0-9]+\$, \\
  /usr/sbin/pct ^(snapshot|delsnapshot|rollback) $vmid $snap\$, \\
  /usr/bin/vzdump ^$vmid( --mode (snapshot|suspend|stop)| --storage $name| --compress (0|gzip|lzo|zstd))*\$
EOF
  fi
  if [[ "$ceiling" == admin ]]; then
    cat <<EOF

# Admin ceiling: migrations and restarting the Proxmox API daemons (never pve-cluster/corosync, never the host).
Cmnd_Alias PMCP_ADMIN = /usr/sbin/qm ^migrate $vmid $node( --online( 1)?)?\$, \\
  /usr/sbin/pct ^migrate $vmid $node( --restart( 1)?)?\$, \\
  /usr/bin/systemctl ^(restart|reload) (pveproxy|pvedaemon|pvestatd|spiceproxy|pve-firewall)\$
EOF
  fi
  local aliases=PMCP_READ
  [[ "$ceiling" != read-only ]] && aliases+=', PMCP_GUEST'
  [[ "$ceiling" == admin ]] && aliases+=', PMCP_ADMIN'
  printf '\n%s ALL=(root) NOPASSWD: %s\n' "$SERVICE_USER" "$aliases"
}

install_sudoers() {
  step "sudo allow-list $SUDOERS_FILE"
  local tmp="$TMP_DIR/sudoers"
  sudoers_content "$CEILING" >"$tmp"
  if ! command -v visudo >/dev/null 2>&1 && ((DRY_RUN)); then
    info "(sudo is not installed yet, so visudo cannot check it in a dry run)"
    put_file "$tmp" "$SUDOERS_FILE" 0440 root:root show
    return 0
  fi
  # A broken drop-in can lock everyone out of sudo: check it before it goes anywhere near sudoers.d.
  visudo -cqf "$tmp" >/dev/null || { visudo -cf "$tmp" >&2 || true; die "the generated sudoers file does not pass visudo -c; nothing installed"; }
  ok "visudo -c accepts it"
  ((DRY_RUN)) || install -d -m 0755 "$SUDOERS_DIR"
  put_file "$tmp" "$SUDOERS_FILE" 0440 root:root show
}

# ----- 3. SSH key for the container and the pinned host key ------------------------------------------------
ensure_ssh() {
  step "SSH key for the container, and the host key it pins"
  local ssh_dir="$CONFIG_DIR/ssh"
  ensure_dir "$CONFIG_DIR" 755 0 0
  # root-owned, group = the container's GID: the container can read the key, never replace the files.
  ensure_dir "$ssh_dir" 750 0 "$CONTAINER_GID"
  local key="$ssh_dir/id_ed25519"
  if [[ -s "$key" && -s "$key.pub" ]]; then
    ok "$key exists (kept)"
  else
    run ssh-keygen -q -t ed25519 -N '' -C "$KEY_MARKER@$(hostname)" -f "$key"
    ((DRY_RUN)) || ok "generated $key"
  fi
  # The server reads it as the container user; nobody else may.
  if ! ((DRY_RUN)) || [[ -e "$key" ]]; then
    [[ "$(stat -c '%a %u' "$key" 2>/dev/null)" == "600 $CONTAINER_UID" ]] || {
      run chown "$CONTAINER_UID:$CONTAINER_GID" "$key"
      run chmod 0600 "$key"
    }
  fi

  # authorized_keys: a root-owned file that sshd reads for this user only (a Match block), so neither the
  # user (through execute_command) nor the container can add a key or drop a restriction; it holds exactly
  # the container's key, so a re-run removes any other. `restrict` turns off pty, forwarding of every kind
  # and ~/.ssh/rc; from= only loopback (the container uses host networking). The Match block enforces the
  # same in sshd itself, and ignores ~/.ssh/authorized_keys for this user.
  local pub
  if [[ -s "$key.pub" ]]; then pub="$(cut -d' ' -f1,2 "$key.pub")"; else pub="ssh-ed25519 <generated-key>"; fi
  local line="restrict,from=\"127.0.0.1,::1\" $pub $KEY_MARKER"
  local tmp="$TMP_DIR/authorized_keys"
  printf '# proxmox-mcp: the container key for the host user %s, written by setup.sh (re-running it replaces this file).\n%s\n' "$SERVICE_USER" "$line" >"$tmp"
  ensure_dir "$AUTH_KEYS_DIR" 755 0 0
  put_file "$tmp" "$AUTH_KEYS_DIR/authorized_keys" 0644 root:root
  tmp="$TMP_DIR/sshd-dropin"
  cat >"$tmp" <<EOF
# proxmox-mcp: how sshd treats the host user $SERVICE_USER (written by setup.sh; removed by --uninstall).
# Its key is in a root-owned file it cannot change; no forwarding, tunnels, pty or rc files, whatever the key says.
Match User $SERVICE_USER
    AuthorizedKeysFile $AUTH_KEYS_DIR/authorized_keys
    AuthorizedKeysCommand none
    AuthenticationMethods publickey
    PasswordAuthentication no
    KbdInteractiveAuthentication no
    AllowTcpForwarding no
    AllowStreamLocalForwarding no
    AllowAgentForwarding no
    X11Forwarding no
    PermitTunnel no
    PermitTTY no
    PermitUserRC no
    GatewayPorts no
    PermitListen none
    PermitOpen none
EOF
  if [[ -f "$SSHD_CONFIG" ]] && ! grep -Eq "^[[:space:]]*Include[[:space:]]+($SSHD_DROPIN_DIR|/etc/ssh/sshd_config.d)/\*\.conf" "$SSHD_CONFIG"; then
    warn "$SSHD_CONFIG does not include $SSHD_DROPIN_DIR/*.conf: add 'Include /etc/ssh/sshd_config.d/*.conf' at its top, or the container's key is not accepted"
  fi
  local before_dropin
  before_dropin="$(cat "$SSHD_DROPIN_DIR/proxmox-mcp.conf" 2>/dev/null || true)"
  ((DRY_RUN)) || install -d -m 0755 "$SSHD_DROPIN_DIR"
  put_file "$tmp" "$SSHD_DROPIN_DIR/proxmox-mcp.conf" 0644 root:root show
  if [[ "$before_dropin" != "$(cat "$tmp")" ]]; then
    # sshd -t reads the real /etc/ssh; with a ROOT prefix (tests) the drop-in is elsewhere.
    if command -v sshd >/dev/null 2>&1 && [[ -z "$ROOT" ]] && ! ((DRY_RUN)); then
      sshd -t || { rm -f -- "$SSHD_DROPIN_DIR/proxmox-mcp.conf"; die "sshd -t refuses the configuration with $SSHD_DROPIN_DIR/proxmox-mcp.conf; removed it again"; }
    fi
    run systemctl reload ssh || warn "could not reload sshd; run: systemctl reload ssh"
  fi
  # The user's own ~/.ssh is not read for it any more: remove what is there (an older setup.sh wrote the key
  # there; anything else in it setup.sh did not install), and keep the directory root's.
  local home
  home="$(getent passwd "$SERVICE_USER" | cut -d: -f6 || true)"
  [[ -n "$home" ]] || home="/home/$SERVICE_USER"
  # The user owns its home: never follow a link it made (~/.ssh -> /root/.ssh would make root delete there).
  if [[ -L "$home/.ssh" ]]; then
    warn "$home/.ssh is a symlink (the user made it); left alone: sshd does not read it for $SERVICE_USER"
  elif [[ -d "$home/.ssh" ]]; then
    if [[ -e "$home/.ssh/authorized_keys" || -L "$home/.ssh/authorized_keys" ]]; then
      remove_path "$home/.ssh/authorized_keys"
    fi
    ensure_dir "$home/.ssh" 755 0 0
  fi

  # known_hosts: this host's ed25519 key under the names the server may use for it.
  local hostkey
  if [[ -s "$SSH_HOST_KEY_PUB" ]]; then
    hostkey="$(cut -d' ' -f1,2 "$SSH_HOST_KEY_PUB")"
  else
    info "$SSH_HOST_KEY_PUB not found; asking sshd on 127.0.0.1 (ssh-keyscan)"
    hostkey="$(ssh-keyscan -t ed25519 127.0.0.1 2>/dev/null | awk '$2 == "ssh-ed25519" {print $2, $3; exit}')"
    [[ -n "$hostkey" ]] || die "cannot read this host's SSH ed25519 key (is sshd running?)"
  fi
  local names
  names="127.0.0.1,::1,localhost,$(hostname)"
  tmp="$TMP_DIR/known_hosts"
  printf '# this host (%s), pinned by proxmox-mcp setup.sh; re-run setup.sh after changing the host key\n%s %s\n' \
    "$(hostname)" "$names" "$hostkey" >"$tmp"
  put_file "$tmp" "$ssh_dir/known_hosts" 0644 root:root
  info "host key fingerprint: $(ssh-keygen -lf "$tmp" | awk '{print $2}')"
}

# ----- 4. Proxmox user, token, role, ACL ---------------------------------------------------------------------
# JSON helpers (perl is always on Proxmox VE): read pveum --output-format json on stdin.
json_has() { # KEY VALUE: true when an array element has KEY == VALUE
  K="$1" V="$2" perl -MJSON::PP -0777 -ne 'my $d = decode_json($_); exit((grep { ($_->{$ENV{K}} // "") eq $ENV{V} } @$d) ? 0 : 1)'
}
json_field() { # KEY: print the top-level KEY of an object
  K="$1" perl -MJSON::PP -0777 -ne 'my $d = decode_json($_); print $d->{$ENV{K}} // ""'
}
acl_roles() { # TYPE UGID: roleids granted on / to a user or token
  T="$1" U="$2" perl -MJSON::PP -0777 -ne 'my $d = decode_json($_); print "$_->{roleid}\n" for grep { $_->{path} eq "/" && $_->{type} eq $ENV{T} && $_->{ugid} eq $ENV{U} } @$d'
}

operator_privs() {
  # Guest power, console, snapshots and backups; read everything else. No VM.Allocate/Config (no creating,
  # deleting or reconfiguring guests), no Sys.Modify, no User.Modify/Permissions.Modify (cannot touch users,
  # root@pam or its own grants). No guest-agent command execution unless --guest-exec asks for it: on PVE 8
  # VM.Monitor alone allows agent exec, file-write and set-user-password (root in every guest with an agent).
  local privs=(VM.Audit VM.PowerMgmt VM.Console VM.Snapshot VM.Snapshot.Rollback VM.Backup VM.Migrate
    Datastore.Audit Datastore.AllocateSpace Sys.Audit Pool.Audit SDN.Audit)
  # PVE 9 replaced VM.Monitor with VM.GuestAgent.*; each version rejects the other's names.
  if ((PVE_MAJOR >= 9)); then
    privs+=(VM.GuestAgent.Audit)
    ((GUEST_EXEC)) && privs+=(VM.GuestAgent.Unrestricted)
  else
    ((GUEST_EXEC)) && privs+=(VM.Monitor)
  fi
  local IFS=,
  printf '%s' "${privs[*]}"
}

admin_privs() {
  # PVEAdmin without what would let the token raise itself or reach beyond guests: no Permissions.Modify
  # (it could grant itself Administrator), no User.Modify/Group.Allocate/Realm.AllocateUser (no users,
  # groups, passwords or tokens, root@pam's included), no Sys.Console (the node shell), no Mapping.Modify
  # (host devices into guests), and never the root-only Sys.Modify/Sys.PowerMgmt/Realm.Allocate.
  # Guest-agent commands are part of the admin ceiling (it configures guests anyway).
  local privs=(VM.Allocate VM.Clone VM.Config.CDROM VM.Config.CPU VM.Config.Cloudinit VM.Config.Disk
    VM.Config.HWType VM.Config.Memory VM.Config.Network VM.Config.Options VM.Migrate VM.PowerMgmt VM.Snapshot
    VM.Snapshot.Rollback VM.Backup VM.Console VM.Audit Sys.Audit Sys.Syslog
    Datastore.Allocate Datastore.AllocateTemplate Datastore.AllocateSpace Datastore.Audit
    SDN.Allocate SDN.Audit SDN.Use Pool.Allocate Pool.Audit Mapping.Use Mapping.Audit)
  if ((PVE_MAJOR >= 9)); then
    privs+=(VM.Replicate VM.GuestAgent.Audit VM.GuestAgent.FileRead VM.GuestAgent.FileWrite VM.GuestAgent.FileSystemMgmt VM.GuestAgent.Unrestricted)
  else
    privs+=(VM.Monitor)
  fi
  local IFS=,
  printf '%s' "${privs[*]}"
}

role_for_ceiling() {
  case "$1" in
    read-only) printf 'PVEAuditor' ;;
    operator) printf '%s' "$OPERATOR_ROLE" ;;
    # Never PVEAdmin or Administrator: both carry Permissions.Modify and User.Modify.
    admin) printf '%s' "$ADMIN_ROLE" ;;
  esac
}

TOKEN_SECRET=''
ensure_proxmox_access() {
  step "Proxmox user $PVE_USER, token $PVE_TOKEN_ID, ceiling $CEILING"
  if pveum user list --output-format json | json_has userid "$PVE_USER"; then
    ok "user $PVE_USER exists"
  else
    run pveum user add "$PVE_USER" --comment "proxmox-mcp service user (setup.sh)"
    ((DRY_RUN)) || ok "created Proxmox user $PVE_USER"
  fi

  local role
  role="$(role_for_ceiling "$CEILING")"
  if [[ "$role" == "$OPERATOR_ROLE" || "$role" == "$ADMIN_ROLE" ]]; then
    # The role's privileges exactly (role modify without --append replaces them), per PVE version.
    local privs roles_json current_privs
    if [[ "$role" == "$OPERATOR_ROLE" ]]; then privs="$(operator_privs)"; else privs="$(admin_privs)"; fi
    roles_json="$(pveum role list --output-format json)"
    if json_has roleid "$role" <<<"$roles_json"; then
      current_privs="$(R="$role" perl -MJSON::PP -0777 -ne 'my ($r) = grep { $_->{roleid} eq $ENV{R} } @{ decode_json($_) }; print join(",", sort split /,/, $r->{privs} // "")' <<<"$roles_json")"
      if [[ "$current_privs" == "$(tr ',' '\n' <<<"$privs" | LC_ALL=C sort | paste -sd, -)" ]]; then
        ok "role $role has exactly its privileges"
      else
        run pveum role modify "$role" --privs "$privs"
      fi
    else
      run pveum role add "$role" --privs "$privs"
    fi
  fi

  # The token: privilege separation on, so it has only what its own ACL grants (intersected with the user's).
  local existing_secret
  existing_secret="$(env_get PROXMOX_TOKEN_SECRET)"
  if pveum user token list "$PVE_USER" --output-format json 2>/dev/null | json_has tokenid "$PVE_TOKEN"; then
    if [[ -n "$existing_secret" ]]; then
      ok "token $PVE_TOKEN_ID exists and .env has its secret (kept)"
      TOKEN_SECRET="$existing_secret"
    else
      warn "token $PVE_TOKEN_ID exists but its secret is not in $ENV_FILE (Proxmox shows it only once): replacing the token"
      run pveum user token remove "$PVE_USER" "$PVE_TOKEN"
    fi
  fi
  if [[ -z "$TOKEN_SECRET" ]]; then
    if ((DRY_RUN)); then
      run pveum user token add "$PVE_USER" "$PVE_TOKEN" --privsep 1 --comment "proxmox-mcp container" --output-format json
      TOKEN_SECRET='<token secret from pveum>'
    else
      local out
      out="$(pveum user token add "$PVE_USER" "$PVE_TOKEN" --privsep 1 --comment "proxmox-mcp container" --output-format json)"
      TOKEN_SECRET="$(json_field value <<<"$out")"
      [[ -n "$TOKEN_SECRET" ]] || die "pveum did not return the new token's secret"
      ok "created token $PVE_TOKEN_ID (privilege separation on)"
    fi
  fi

  # ACL on /: the role for both the user and the token (privsep = intersection of the two); any role
  # from an earlier, different ceiling is taken away first.
  local acl_json kind ugid current
  acl_json="$(pveum acl list --output-format json)"
  for kind in user token; do
    if [[ "$kind" == user ]]; then ugid="$PVE_USER"; else ugid="$PVE_TOKEN_ID"; fi
    while IFS= read -r current; do
      [[ -z "$current" || "$current" == "$role" ]] && continue
      run pveum acl delete / --roles "$current" "--${kind}s" "$ugid"
    done < <(acl_roles "$kind" "$ugid" <<<"$acl_json")
    if acl_roles "$kind" "$ugid" <<<"$acl_json" | grep -qx "$role"; then
      ok "$kind $ugid has $role on /"
    else
      run pveum acl modify / --roles "$role" "--${kind}s" "$ugid" --propagate 1
    fi
  done
}

# ----- 5. TLS fingerprint ------------------------------------------------------------------------------------
TLS_FINGERPRINT=''
read_fingerprint() {
  step "Proxmox API certificate fingerprint (TLS pinning)"
  # pveproxy serves pveproxy-ssl.pem when an admin installed a custom certificate, else pve-ssl.pem.
  local cert="$PVE_SSL_CERT"
  [[ -s "$PVEPROXY_SSL_CERT" ]] && cert="$PVEPROXY_SSL_CERT"
  [[ -s "$cert" ]] || die "cannot find the node certificate ($PVE_SSL_CERT)"
  TLS_FINGERPRINT="$(openssl x509 -in "$cert" -noout -fingerprint -sha256 | sed 's/^.*=//' | tr 'a-f' 'A-F')"
  [[ "$TLS_FINGERPRINT" =~ ^([0-9A-F]{2}:){31}[0-9A-F]{2}$ ]] || die "could not read a SHA-256 fingerprint from $cert"
  ok "$cert: $TLS_FINGERPRINT"
}

# ----- 5b. the server's own TLS certificate (only when it listens beyond loopback) -------------------------
# Bearer tokens travel in every request: beyond loopback the server serves HTTPS, and refuses plain HTTP.
# The certificate is the admin's (--tls-cert/--tls-key, e.g. the node's pveproxy-ssl.*), or one generated
# here (ECDSA P-256, 10 years, names: the listen address, this host's address and names). Its SHA-256
# fingerprint is printed, to compare with what a client sees. /etc/proxmox-mcp/tls is root's, group = the
# container's GID (the key 0640): the container reads it and can never replace it.
SERVER_TLS=0
SERVER_TLS_FINGERPRINT=''
is_loopback() { [[ "$1" =~ ^127\. || "$1" == ::1 || "$1" == localhost ]]; }
ensure_server_tls() {
  local tls_dir="$CONFIG_DIR/tls"
  if is_loopback "$LISTEN" && [[ -z "$TLS_CERT_SRC" ]]; then
    SERVER_TLS=0
    return 0
  fi
  SERVER_TLS=1
  step "TLS certificate of the server ($LISTEN is beyond loopback: HTTPS only)"
  ensure_dir "$tls_dir" 750 0 "$CONTAINER_GID"
  local cert="$tls_dir/cert.pem" key="$tls_dir/key.pem" tmp_cert="$TMP_DIR/tls-cert.pem" tmp_key="$TMP_DIR/tls-key.pem"
  if [[ -n "$TLS_CERT_SRC" ]]; then
    openssl x509 -in "$TLS_CERT_SRC" -noout >/dev/null 2>&1 || die "--tls-cert $TLS_CERT_SRC is not a PEM certificate"
    openssl pkey -in "$TLS_KEY_SRC" -noout >/dev/null 2>&1 || die "--tls-key $TLS_KEY_SRC is not a PEM private key"
    cp "$TLS_CERT_SRC" "$tmp_cert"
    cp "$TLS_KEY_SRC" "$tmp_key"
  elif [[ -s "$cert" && -s "$key" ]]; then
    cp "$cert" "$tmp_cert"
    cp "$key" "$tmp_key"
    ok "keeping the certificate in $cert"
  else
    local names address san
    address="$(primary_address)"
    san="IP:127.0.0.1,DNS:localhost,DNS:$(hostname -s 2>/dev/null || hostname)"
    [[ "$LISTEN" != 0.0.0.0 && "$LISTEN" != '::' ]] && san+=",IP:$LISTEN"
    [[ "$address" != "$LISTEN" ]] && san+=",IP:$address"
    names="$(hostname -f 2>/dev/null || true)"
    [[ -n "$names" && ",$san," != *",DNS:$names,"* ]] && san+=",DNS:$names"
    if ((DRY_RUN)); then
      printf '    [dry-run] openssl req -x509 -newkey ec (P-256) -days 3650 -subj /CN=proxmox-mcp -addext subjectAltName=%s -> %s\n' "$san" "$cert"
      return 0
    fi
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 3650 \
      -subj "/CN=proxmox-mcp $(hostname -s 2>/dev/null || hostname)" -addext "subjectAltName=$san" \
      -keyout "$tmp_key" -out "$tmp_cert" >/dev/null 2>&1 || die "openssl could not make a certificate"
    ok "generated a certificate for $san"
  fi
  put_file "$tmp_cert" "$cert" 0644 root:root
  put_file "$tmp_key" "$key" 0640 "root:$CONTAINER_GID"
  SERVER_TLS_FINGERPRINT="$(openssl x509 -in "$tmp_cert" -noout -fingerprint -sha256 | sed 's/^.*=//')"
  info "server certificate SHA-256 fingerprint: $SERVER_TLS_FINGERPRINT"
}

# ----- 6. .env ---------------------------------------------------------------------------------------------
env_get() { # the current value of KEY in .env, or nothing
  [[ -f "$ENV_FILE" ]] || return 0
  awk -F= -v key="$1" '$1 == key { sub(/^[^=]*=/, ""); value = $0 } END { if (value != "") print value }' "$ENV_FILE"
}

primary_address() {
  local address
  address="$(hostname -I 2>/dev/null | awk '{print $1}')"
  printf '%s' "${address:-127.0.0.1}"
}

write_env() {
  step "Configuration $ENV_FILE"
  local admin_token
  admin_token="$(env_get MCP_ADMIN_TOKEN)"
  if [[ -z "$admin_token" ]]; then
    # pmcp_ + 43 base64url characters = 256 random bits.
    admin_token="pmcp_$(head -c 32 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')"
    ADMIN_TOKEN_NEW=1
  fi
  local node address allowed
  node="$(hostname -s 2>/dev/null || hostname)"
  address="$(primary_address)"
  allowed="$address,$(hostname -s 2>/dev/null || hostname)"
  local fqdn
  fqdn="$(hostname -f 2>/dev/null || true)"
  [[ -n "$fqdn" && ",$allowed," != *",$fqdn,"* ]] && allowed+=",$fqdn"

  local -a settings=(
    "MCP_HOST=$LISTEN"
    "MCP_PORT=$MCP_PORT_VALUE"
    "MCP_ADMIN_TOKEN=$admin_token"
    "MCP_ALLOWED_HOSTS=$allowed"
    "MCP_DATA_DIR=$SERVER_DATA_DIR"
    "MCP_BACKUP_DIR=$SERVER_BACKUP_DIR"
    "MCP_UPDATE_DIR=$SERVER_DATA_DIR/update"
    "MCP_INSTALL_DIR=$INSTALL_DIR"
    "MCP_MAIN_NODE=$node"
    "PROXMOX_URL=${PROXMOX_URL_VALUE%/}"
    "PROXMOX_TOKEN_ID=$PVE_TOKEN_ID"
    "PROXMOX_TOKEN_SECRET=$TOKEN_SECRET"
    "PROXMOX_TLS_FINGERPRINT=$TLS_FINGERPRINT"
    "SSH_USER=$SERVICE_USER"
    "SSH_PORT=22"
    "SSH_KEY_FILE=$SERVER_CONFIG_DIR/ssh/id_ed25519"
    "SSH_KNOWN_HOSTS=$SERVER_CONFIG_DIR/ssh/known_hosts"
    "SSH_HOSTS=$node=127.0.0.1"
    "PROXMOX_MCP_CEILING=$CEILING"
  )
  # HTTPS beyond loopback (the paths as the container sees them; docker-compose.yml mounts the directory).
  if ((SERVER_TLS)); then
    settings+=("MCP_TLS_CERT=$SERVER_CONFIG_DIR/tls/cert.pem" "MCP_TLS_KEY=$SERVER_CONFIG_DIR/tls/key.pem")
  fi
  # Keep every line we do not manage (comments, the admin's own settings); replace or append ours.
  local tmp="$TMP_DIR/env" setting key
  if [[ -f "$ENV_FILE" ]]; then cp "$ENV_FILE" "$tmp"; else
    printf '# proxmox-mcp settings, written by setup.sh (re-running it keeps secrets and your own lines).\n# Secrets: keep this file 0600, root only. Reference: docs/DEPLOYMENT.md\n' >"$tmp"
  fi
  for setting in "${settings[@]}"; do
    key="${setting%%=*}"
    if grep -q "^$key=" "$tmp"; then
      S="$setting" K="$key" perl -i -pe 's/^\Q$ENV{K}\E=.*$/$ENV{S}/' "$tmp"
    else
      printf '%s\n' "$setting" >>"$tmp"
    fi
  done
  if ! ((SERVER_TLS)); then
    perl -i -ne 'print unless /^MCP_TLS_(CERT|KEY)=/' "$tmp"
  fi
  if ((DRY_RUN)); then
    printf '    [dry-run] write %s (mode 0600, owner root) with: %s\n' "$ENV_FILE" \
      "$(printf '%s\n' "${settings[@]}" | cut -d= -f1 | paste -sd' ')"
  else
    put_file "$tmp" "$ENV_FILE" 0600 root:root
  fi
}

# ----- 7. data directories and the host-side updater ---------------------------------------------------------
ensure_data_dirs() {
  step "Data, log and backup directories (owned by the container's UID $CONTAINER_UID)"
  ensure_dir "$DATA_DIR" 750 "$CONTAINER_UID" "$CONTAINER_GID"
  ensure_dir "$DATA_DIR/update" 750 "$CONTAINER_UID" "$CONTAINER_GID"
  ensure_dir "$LOG_DIR" 750 "$CONTAINER_UID" "$CONTAINER_GID"
  ensure_dir "$BACKUP_DIR" 750 "$CONTAINER_UID" "$CONTAINER_GID"
  # The updater's own: its state (the tags it has seen, the downgrade flag) and its answers to the container,
  # root's and only readable by the container (docker-compose.yml mounts answers/ read-only into update/).
  ensure_dir "$UPDATER_STATE_DIR" 755 0 0
  ensure_dir "$UPDATER_STATE_DIR/answers" 755 0 0
}

render_unit() { # TEMPLATE OUT
  sed -e "s|@INSTALL_DIR@|$INSTALL_DIR|g" -e "s|@UPDATE_DIR@|$DATA_DIR/update|g" \
    -e "s|@LIBEXEC_DIR@|$LIBEXEC_DIR|g" -e "s|@ENV_FILE@|$ENV_FILE|g" -e "s|@STATE_DIR@|$UPDATER_STATE_DIR|g" \
    -e "s|@SIGNERS@|$SIGNERS_FILE|g" -e "s|@CONTAINER_UID@|$CONTAINER_UID|g" "$1" >"$2"
}

# The keys that sign proxmox-mcp releases, pinned for the updater (git verify-tag with an SSH allowed-signers
# file): --release-signers FILE takes SSH public keys (one per line) or allowed_signers lines. Without it an
# earlier pin is kept; with none at all, self_update refuses every release until one is pinned.
# Rotation: pin a file with the old AND the new key, move to releases signed with the new one, then pin the
# new key alone (docs/DEPLOYMENT.md).
pin_release_signers() {
  step "Release-signing keys (the updater installs only tags they signed)"
  if [[ -z "$SIGNERS_SRC" ]]; then
    if [[ -s "$SIGNERS_FILE" ]]; then
      ok "$SIGNERS_FILE kept: $(grep -c '^[^#]' "$SIGNERS_FILE") key(s)"
    else
      warn "no release-signing key pinned: self_update refuses every release until you run ./setup.sh --release-signers FILE (the project's published key)"
    fi
    return 0
  fi
  local tmp="$TMP_DIR/release-signers" line fields count=0
  printf '# proxmox-mcp release-signing keys, pinned by setup.sh (allowed_signers format, namespace git)\n' >"$tmp"
  while IFS= read -r line || [[ -n "$line" ]]; do
    [[ "$line" =~ ^[[:space:]]*(#|$) ]] && continue
    read -r -a fields <<<"$line"
    if [[ "${fields[0]}" == ssh-* || "${fields[0]}" == ecdsa-* || "${fields[0]}" == sk-* ]]; then
      line="release@proxmox-mcp ${fields[0]} ${fields[1]:-}"
    fi
    printf '%s\n' "$line" >>"$tmp"
    count=$((count + 1))
  done <"$SIGNERS_SRC"
  ((count > 0)) || die "--release-signers $SIGNERS_SRC holds no key"
  # Every line must hold a key ssh-keygen can read.
  local key prints=()
  while IFS= read -r line; do
    key="$(grep -oE '(ssh-[a-z0-9-]+|ecdsa-[a-z0-9-]+|sk-[a-z0-9@.-]+) [A-Za-z0-9+/]+={0,2}' <<<"$line" | head -n 1 || true)"
    [[ -n "$key" ]] || die "--release-signers: not an SSH public key: ${line:0:60}"
    prints+=("$(ssh-keygen -l -f /dev/stdin <<<"$key" 2>/dev/null | awk '{print $2}')")
    [[ -n "${prints[-1]}" ]] || die "--release-signers: not an SSH public key: ${line:0:60}"
  done < <(grep -v '^#' "$tmp")
  ensure_dir "$CONFIG_DIR" 755 0 0
  put_file "$tmp" "$SIGNERS_FILE" 0644 root:root show
  info "$count key(s): ${prints[*]}"
}

install_updater() {
  step "Host-side updater (self_update asks it to rebuild the container)"
  local src="$INSTALL_DIR/deploy"
  [[ -f "$src/host-update.sh" ]] || die "$src/host-update.sh is missing: run setup.sh from the proxmox-mcp checkout"
  # A copy outside the checkout: the updater checks out other versions of the checkout while it runs.
  ((DRY_RUN)) || install -d -m 0755 "$LIBEXEC_DIR"
  cp "$src/host-update.sh" "$TMP_DIR/host-update.sh"
  put_file "$TMP_DIR/host-update.sh" "$LIBEXEC_DIR/host-update.sh" 0755 root:root
  pin_release_signers
  local unit changed=0 before
  for unit in "${UNITS[@]}"; do
    render_unit "$src/$unit" "$TMP_DIR/$unit"
    before="$(cat "$SYSTEMD_DIR/$unit" 2>/dev/null || true)"
    put_file "$TMP_DIR/$unit" "$SYSTEMD_DIR/$unit" 0644 root:root
    [[ "$before" == "$(cat "$TMP_DIR/$unit")" ]] || changed=1
  done
  ((changed)) && run systemctl daemon-reload
  if [[ "$(systemctl is-enabled proxmox-mcp-update.path 2>/dev/null || true)" == enabled ]] && ! ((changed)); then
    ok "proxmox-mcp-update.path enabled"
  else
    run systemctl enable --now proxmox-mcp-update.path
  fi
}

# ----- the whole install -----------------------------------------------------------------------------------
choose_ceiling() {
  if [[ -z "$CEILING" ]]; then
    CEILING="$(env_get PROXMOX_MCP_CEILING)"
  fi
  if [[ -z "$CEILING" ]] && ((INTERACTIVE)); then
    printf '\nHow much may proxmox-mcp ever do on this host? (client tokens can be lower, never higher)\n'
    printf '  1) read-only  look, never change (Proxmox role PVEAuditor)\n'
    printf '  2) operator   + start/stop/snapshot/backup guests (role %s)  [default]\n' "$OPERATOR_ROLE"
    printf '  3) admin      + create/configure/delete guests, storage, network, guest agent (role %s; never users, ACLs or root@pam)\n' "$ADMIN_ROLE"
    local answer
    read -r -p 'Ceiling [2]: ' answer
    case "$answer" in 1 | read-only) CEILING=read-only ;; 3 | admin) CEILING='admin' ;; *) CEILING=operator ;; esac
  fi
  CEILING="${CEILING:-operator}"
}

# The first approver (issue 13): a person whose authenticator app (TOTP) approves what an agent cannot
# approve itself, on the server's /approve page. It lives in the server's database: made inside the running
# container, or, on a first install (no container yet), with `docker compose run --rm` against the same
# data volume (that builds the image, the next step anyway). The otpauth URI (the secret) goes to this
# terminal only, never to a file, and as a QR code when qrencode is there: installed with the packages
# setup.sh installs anyway, or offered; else the exact command is printed.
APPROVER_NAME="${SUDO_USER:-admin}"
PACKAGES_INSTALLED=0
approve_cli() {
  if [[ -n "$(docker compose --project-directory "$INSTALL_DIR" ps -q proxmox-mcp 2>/dev/null)" ]]; then
    docker compose --project-directory "$INSTALL_DIR" exec -T proxmox-mcp node dist/bin/approve.js "$@"
  else
    docker compose --project-directory "$INSTALL_DIR" run --rm --no-deps -T proxmox-mcp node dist/bin/approve.js "$@"
  fi
}
show_otpauth_qr() {
  local uri="$1"
  if ! command -v qrencode >/dev/null 2>&1; then
    if ((PACKAGES_INSTALLED)) || confirm "Install qrencode (apt-get install -y qrencode) to show it as a QR code to scan?"; then
      run apt-get install -y --no-install-recommends qrencode || warn "could not install qrencode"
    fi
  fi
  if command -v qrencode >/dev/null 2>&1; then
    qrencode -t ansiutf8 -- "$uri"
  else
    info "For a QR code to scan: apt-get install -y qrencode, then: qrencode -t ansiutf8 '$uri'"
  fi
}
create_first_approver() {
  ((DRY_RUN)) && { info "would add approver '$APPROVER_NAME' (in the container, or with docker compose run --rm before it runs)"; return 0; }
  command -v docker >/dev/null 2>&1 || return 1
  if [[ -z "$(docker compose --project-directory "$INSTALL_DIR" ps -q proxmox-mcp 2>/dev/null)" ]]; then
    # First install: the container does not run yet. Building the image is the next step anyway.
    if ! confirm "Build the image now and add the first approver '$APPROVER_NAME' (docker compose run --rm)?"; then
      info "Then add the first approver: cd $INSTALL_DIR && docker compose run --rm --no-deps proxmox-mcp node dist/bin/approve.js approver add $APPROVER_NAME"
      return 0
    fi
    export GIT_COMMIT="${GIT_COMMIT:-$(git -C "$INSTALL_DIR" rev-parse HEAD 2>/dev/null || echo unknown)}"
    export GIT_TAG="${GIT_TAG:-$(git -C "$INSTALL_DIR" describe --tags --exact-match 2>/dev/null || true)}"
  fi
  local listed
  if listed="$(approve_cli approver list 2>/dev/null)" && [[ -n "$listed" && "$listed" != 'No approver yet'* ]]; then
    info "an approver exists already (node dist/bin/approve.js approver list inside the container)"
    return 0
  fi
  local out uri
  out="$(approve_cli approver add "$APPROVER_NAME")" || return 1
  uri="$(grep -o 'otpauth://[^[:space:]]*' <<<"$out" | head -n 1)"
  [[ -n "$uri" ]] || return 1
  step "First approver: $APPROVER_NAME"
  info "Add this to your authenticator app now; it is shown only once:"
  info "$uri"
  show_otpauth_qr "$uri"
}

ADMIN_TOKEN_NEW=0
install_all() {
  ((DRY_RUN)) && printf '%sDry run: nothing will be changed; every action is printed instead.%s\n' "$BOLD" "$RESET"
  check_host
  choose_ceiling
  info "ceiling: $CEILING"
  ensure_host_user
  install_sudoers
  ensure_ssh
  ensure_proxmox_access
  read_fingerprint
  ensure_server_tls
  ensure_data_dirs
  write_env
  install_updater

  local host="$LISTEN" scheme=http trust=''
  [[ "$host" == 0.0.0.0 || "$host" == '::' ]] && host="$(primary_address)"
  [[ "$host" == *:* ]] && host="[$host]"
  if ((SERVER_TLS)); then
    scheme=https
    trust="
    The server speaks HTTPS with the certificate in $CONFIG_DIR/tls/cert.pem (SHA-256 $SERVER_TLS_FINGERPRINT).
    Copy that file to the machine that runs Claude Code and let Node trust it (check the fingerprint there with
    openssl x509 -in proxmox-mcp.pem -noout -fingerprint -sha256):
      export NODE_EXTRA_CA_CERTS=\$HOME/.config/proxmox-mcp.pem      # before starting claude
"
  fi
  step "Done"
  if ((DRY_RUN)); then
    info "dry run: nothing was changed. Run again without --dry-run to apply."
    return 0
  fi
  cat <<EOF

    Start (or rebuild) the server; GIT_COMMIT and GIT_TAG tell the image which checkout it is (get_mcp_info):
      cd $INSTALL_DIR && export GIT_COMMIT="\$(git rev-parse HEAD)" GIT_TAG="\$(git describe --tags --exact-match 2>/dev/null)"
      docker compose up -d --build
      curl -s $( ((SERVER_TLS)) && printf -- '--cacert %s ' "$CONFIG_DIR/tls/cert.pem" )$scheme://$host:$MCP_PORT_VALUE/health
$trust
    The first approver (a person; their authenticator app approves what an agent cannot) is added below
    when docker is here (else, once the container runs; ./setup.sh again does it too). Tell clients where
    the approval page is:
      docker compose exec proxmox-mcp node dist/bin/approve.js approver add $APPROVER_NAME   # if none was added
      docker compose exec proxmox-mcp node dist/bin/approve.js url $scheme://$host:$MCP_PORT_VALUE

    Connect Claude Code with an operator token made for it, not the admin token (the admin token, in
    $ENV_FILE as MCP_ADMIN_TOKEN$( ((ADMIN_TOKEN_NEW)) && printf ', new' ), is for you and the CLI):
      docker compose exec proxmox-mcp node dist/bin/token.js create --name claude-code --role operator
      claude mcp add --transport http proxmox $scheme://$host:$MCP_PORT_VALUE/mcp --header "Authorization: Bearer <the token it printed>"
EOF
  create_first_approver || true
}

# ----- uninstall -------------------------------------------------------------------------------------------
uninstall_all() {
  ((DRY_RUN)) && printf '%sDry run: nothing will be changed; every action is printed instead.%s\n' "$BOLD" "$RESET"
  check_host
  step "Stopping the container"
  if command -v docker >/dev/null 2>&1 && [[ -f "$INSTALL_DIR/docker-compose.yml" ]]; then
    run docker compose --project-directory "$INSTALL_DIR" down --remove-orphans || warn "docker compose down failed; stop the container yourself"
  else
    info "docker not found; nothing to stop"
  fi

  step "Host-side updater"
  local unit
  if [[ -f "$SYSTEMD_DIR/proxmox-mcp-update.path" ]]; then
    run systemctl disable --now proxmox-mcp-update.path || true
  fi
  for unit in "${UNITS[@]}"; do remove_path "$SYSTEMD_DIR/$unit"; done
  run systemctl daemon-reload || true
  remove_path "$LIBEXEC_DIR"
  remove_path "$UPDATER_STATE_DIR"

  step "Proxmox user, token, role and ACL"
  if pveum user list --output-format json | json_has userid "$PVE_USER"; then
    local acl_json kind ugid role
    acl_json="$(pveum acl list --output-format json)"
    for kind in token user; do
      if [[ "$kind" == user ]]; then ugid="$PVE_USER"; else ugid="$PVE_TOKEN_ID"; fi
      while IFS= read -r role; do
        [[ -n "$role" ]] && run pveum acl delete / --roles "$role" "--${kind}s" "$ugid"
      done < <(acl_roles "$kind" "$ugid" <<<"$acl_json")
    done
    if pveum user token list "$PVE_USER" --output-format json 2>/dev/null | json_has tokenid "$PVE_TOKEN"; then
      run pveum user token remove "$PVE_USER" "$PVE_TOKEN"
    fi
    run pveum user delete "$PVE_USER"
  else
    ok "no user $PVE_USER"
  fi
  local roles_json
  roles_json="$(pveum role list --output-format json)"
  for role in "$OPERATOR_ROLE" "$ADMIN_ROLE"; do
    if json_has roleid "$role" <<<"$roles_json"; then
      run pveum role delete "$role"
    fi
  done

  step "Host user, sudo allow-list, SSH key"
  remove_path "$SUDOERS_FILE"
  if [[ -e "$SSHD_DROPIN_DIR/proxmox-mcp.conf" ]]; then
    remove_path "$SSHD_DROPIN_DIR/proxmox-mcp.conf"
    run systemctl reload ssh || warn "could not reload sshd; run: systemctl reload ssh"
  fi
  remove_path "$AUTH_KEYS_DIR"
  if id "$SERVICE_USER" >/dev/null 2>&1; then
    # --remove: its home with the authorized_keys entry goes too.
    run userdel --remove "$SERVICE_USER" 2>/dev/null || run userdel "$SERVICE_USER"
  else
    ok "no user $SERVICE_USER"
  fi
  remove_path "$CONFIG_DIR"

  step "Configuration and data"
  if [[ -f "$ENV_FILE" ]]; then
    if confirm "Delete $ENV_FILE (admin token, Proxmox token secret)?"; then
      remove_path "$ENV_FILE"
    else
      info "kept $ENV_FILE (run with --yes to delete it)"
    fi
  fi
  if ((PURGE)); then
    remove_path "$DATA_DIR"; remove_path "$LOG_DIR"; remove_path "$BACKUP_DIR"
  else
    info "kept the data ($DATA_DIR, $LOG_DIR, $BACKUP_DIR); --uninstall --purge deletes them"
  fi
  step "Done"
}

if ((UNINSTALL)); then uninstall_all; else install_all; fi
