#!/usr/bin/env bash
# proxmox-mcp setup: prepares a Proxmox VE host for the proxmox-mcp container.
#
#   git clone <repo> /opt/proxmox-mcp && cd /opt/proxmox-mcp
#   ./setup.sh                      # then: docker compose up -d --build (with GIT_COMMIT/GIT_TAG; it prints how)
#
# Run as root on the Proxmox host. Safe to run again (it converges; secrets already made are kept).
#
#   --ceiling read-only|operator|admin   the most the server may ever do (Proxmox role + sudo list); default operator
#   --listen ADDRESS                     where the server listens (MCP_HOST); default 0.0.0.0 (all host addresses)
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
#   3. an ed25519 key for the container, authorised for that user only from loopback, no pty, no forwarding;
#      the host's own SSH key recorded in a known_hosts file so the container pins it
#   4. Proxmox user proxmox-mcp@pve and API token `mcp` (privilege separation on), with a role sized to the
#      ceiling granted to both the user and the token (the token gets the intersection)
#   5. the node certificate's SHA-256 fingerprint, for TLS pinning
#   6. .env (0600) with all of it and a random admin client token; prints the Claude Code command
#   7. the host-side updater (systemd path + service) that self_update asks to rebuild the container
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
KEY_MARKER=proxmox-mcp-container
SUDOERS_FILE="$SUDOERS_DIR/proxmox-mcp"
UNITS=(proxmox-mcp-update.path proxmox-mcp-update.service)

CEILING=''
LISTEN='0.0.0.0'
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
#  * Nothing that can start a shell, edit a file, run a hook, exec into a guest or copy files to/from the
#    host: no shells, editors, pagers, pveum (users/tokens/root@pam), pvesh create/set/delete,
#    qm set/monitor/guest exec, pct exec/enter/push/pull/mount, apt, arbitrary systemctl units.
#  * Commands that page (systemctl, journalctl) must be called with --no-pager (and the SSH session has no pty).
sudoers_content() {
  local ceiling="$1"
  # Commas inside a sudoers argument must be escaped (\,). Repetition bounds are kept off nested groups:
  # glibc rejects (and sudo then never matches) regular expressions that grow too large.
  local vmid='[1-9][0-9]{2\,8}' snap='[A-Za-z][A-Za-z0-9_-]*' unit='[A-Za-z0-9@_.-]+' name='[A-Za-z0-9_.-]+'
  cat <<EOF
# proxmox-mcp: what the proxmox-mcp container may run as root over SSH (ceiling: $ceiling).
# Written by $INSTALL_DIR/setup.sh; removed by ./setup.sh --uninstall. Edits are overwritten by setup.sh.
# Why each line is here, and what is deliberately missing: see the comments in setup.sh (sudoers_content).
Defaults:$SERVICE_USER env_reset, !setenv, !lecture, secure_path="/usr/sbin:/usr/bin:/sbin:/bin"

# Read: versions, cluster, guests, storage, ZFS, Ceph, HA, certificates, services, logs.
Cmnd_Alias PMCP_READ = /usr/bin/pveversion, /usr/bin/pveversion ^(-v|--verbose)\$, \\
  /usr/bin/pvecm ^(status|nodes|qdevice status)\$, \\
  /usr/sbin/qm ^list( --full( 1)?)?\$, /usr/sbin/qm ^(status|config|pending|listsnapshot) $vmid( --verbose( 1)?)?\$, \\
  /usr/sbin/pct ^list\$, /usr/sbin/pct ^(status|config|pending|listsnapshot) $vmid( --verbose( 1)?)?\$, \\
  /usr/bin/pvesh ^get /[A-Za-z0-9/._@!\:-]*( --[a-z-]+ [A-Za-z0-9/._@!\:-]+)*( --output-format (json|json-pretty|text|yaml))?\$, \\
  /usr/sbin/pvesm ^(status|list $name)\$, \\
  /usr/sbin/ha-manager ^(status|config)\$, /usr/bin/pvenode ^cert info( --output-format json)?\$, \\
  /usr/sbin/zpool ^(list|status)( -[vxpHLP]+)*( [A-Za-z0-9_.\:-]+)?\$, \\
  /usr/sbin/zfs ^list( -[rHp]+| -o [a-z\,]+| -t [a-z\,]+)*( [A-Za-z0-9_./\:-]+)?\$, \\
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
Cmnd_Alias PMCP_ADMIN = /usr/sbin/qm ^migrate $vmid [A-Za-z0-9-]+( --online( 1)?)?\$, \\
  /usr/sbin/pct ^migrate $vmid [A-Za-z0-9-]+( --restart( 1)?)?\$, \\
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

  # authorized_keys: only from loopback (the container uses host networking), no pty, no forwarding.
  local home
  home="$(getent passwd "$SERVICE_USER" | cut -d: -f6 || true)"
  [[ -n "$home" ]] || home="/home/$SERVICE_USER"
  local auth="$home/.ssh/authorized_keys" pub
  if [[ -s "$key.pub" ]]; then pub="$(cut -d' ' -f1,2 "$key.pub")"; else pub="ssh-ed25519 <generated-key>"; fi
  local line="from=\"127.0.0.1,::1\",no-pty,no-port-forwarding,no-agent-forwarding,no-X11-forwarding,no-user-rc $pub $KEY_MARKER"
  local tmp="$TMP_DIR/authorized_keys"
  : >"$tmp"
  if [[ -f "$auth" ]]; then grep -v " $KEY_MARKER\$" "$auth" >"$tmp" || true; fi
  printf '%s\n' "$line" >>"$tmp"
  if ((DRY_RUN)); then
    printf '    [dry-run] install -d -m 0700 %s; write %s with: %s\n' "$home/.ssh" "$auth" "$line"
  else
    install -d -m 0700 -o "$SERVICE_USER" -g "$(id -gn "$SERVICE_USER")" "$home/.ssh"
    put_file "$tmp" "$auth" 0600 "$SERVICE_USER:$(id -gn "$SERVICE_USER")"
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
  # root@pam or its own grants).
  local privs=(VM.Audit VM.PowerMgmt VM.Console VM.Snapshot VM.Snapshot.Rollback VM.Backup VM.Migrate
    Datastore.Audit Datastore.AllocateSpace Sys.Audit Pool.Audit SDN.Audit)
  # PVE 9 replaced VM.Monitor with VM.GuestAgent.*; each version rejects the other's names.
  if ((PVE_MAJOR >= 9)); then privs+=(VM.GuestAgent.Audit); else privs+=(VM.Monitor); fi
  local IFS=,
  printf '%s' "${privs[*]}"
}

role_for_ceiling() {
  case "$1" in
    read-only) printf 'PVEAuditor' ;;
    operator) printf '%s' "$OPERATOR_ROLE" ;;
    # PVEAdmin: everything but Sys.Modify/Sys.PowerMgmt/Realm.Allocate and the root-only privileges. Never
    # Administrator: that would let the token rewrite any ACL, user or realm, root@pam's included.
    admin) printf 'PVEAdmin' ;;
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
  if [[ "$role" == "$OPERATOR_ROLE" ]]; then
    local privs roles_json
    privs="$(operator_privs)"
    roles_json="$(pveum role list --output-format json)"
    if json_has roleid "$OPERATOR_ROLE" <<<"$roles_json"; then
      run pveum role modify "$OPERATOR_ROLE" --privs "$privs"
    else
      run pveum role add "$OPERATOR_ROLE" --privs "$privs"
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
  ADMIN_TOKEN="$admin_token"
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
}

render_unit() { # TEMPLATE OUT
  sed -e "s|@INSTALL_DIR@|$INSTALL_DIR|g" -e "s|@UPDATE_DIR@|$DATA_DIR/update|g" \
    -e "s|@LIBEXEC_DIR@|$LIBEXEC_DIR|g" -e "s|@ENV_FILE@|$ENV_FILE|g" "$1" >"$2"
}

install_updater() {
  step "Host-side updater (self_update asks it to rebuild the container)"
  local src="$INSTALL_DIR/deploy"
  [[ -f "$src/host-update.sh" ]] || die "$src/host-update.sh is missing: run setup.sh from the proxmox-mcp checkout"
  # A copy outside the checkout: the updater checks out other versions of the checkout while it runs.
  ((DRY_RUN)) || install -d -m 0755 "$LIBEXEC_DIR"
  cp "$src/host-update.sh" "$TMP_DIR/host-update.sh"
  put_file "$TMP_DIR/host-update.sh" "$LIBEXEC_DIR/host-update.sh" 0755 root:root
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
    printf '  3) admin      + create/configure/delete guests, storage, network (role PVEAdmin; never root@pam)\n'
    local answer
    read -r -p 'Ceiling [2]: ' answer
    case "$answer" in 1 | read-only) CEILING=read-only ;; 3 | admin) CEILING='admin' ;; *) CEILING=operator ;; esac
  fi
  CEILING="${CEILING:-operator}"
}

ADMIN_TOKEN=''
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
  ensure_data_dirs
  write_env
  install_updater

  local host="$LISTEN"
  [[ "$host" == 0.0.0.0 || "$host" == '::' ]] && host="$(primary_address)"
  [[ "$host" == *:* ]] && host="[$host]"
  step "Done"
  if ((DRY_RUN)); then
    info "dry run: nothing was changed. Run again without --dry-run to apply."
    return 0
  fi
  cat <<EOF

    Start (or rebuild) the server; GIT_COMMIT and GIT_TAG tell the image which checkout it is (get_mcp_info):
      cd $INSTALL_DIR && export GIT_COMMIT="\$(git rev-parse HEAD)" GIT_TAG="\$(git describe --tags --exact-match 2>/dev/null)"
      docker compose up -d --build
      curl -s http://$host:$MCP_PORT_VALUE/health

    Connect Claude Code (the admin token is in $ENV_FILE as MCP_ADMIN_TOKEN$( ((ADMIN_TOKEN_NEW)) && printf ', new' )):
      claude mcp add --transport http proxmox http://$host:$MCP_PORT_VALUE/mcp --header "Authorization: Bearer $ADMIN_TOKEN"

    Give other clients their own, smaller tokens (inside the container):
      docker compose exec proxmox-mcp node dist/bin/token.js create --name laptop --role operator
EOF
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
  if pveum role list --output-format json | json_has roleid "$OPERATOR_ROLE"; then
    run pveum role delete "$OPERATOR_ROLE"
  fi

  step "Host user, sudo allow-list, SSH key"
  remove_path "$SUDOERS_FILE"
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
