#!/usr/bin/env bash
# proxmox-mcp host-side updater: the half of self_update and check_updates that runs on the host, as root.
#
# The container cannot rebuild itself (no Docker socket is mounted into it, on purpose) and has no .git.
# It writes requests into the update dir; systemd (proxmox-mcp-update.path) sees them and starts this script
# (proxmox-mcp-update.service). THE protocol is defined in lib/self/update-protocol.ts; this implements it:
#
#   check-request.json {"id","action":"check","requested_at","requested_by"}
#     -> git fetch --tags; answers tags.json {"id","status":"ok"|"failed","tags":[...],"checked_out_tag",
#        "checked_out_commit","message","finished_at"}
#   request.json {"id","action":"update","target_tag":"vX.Y.Z","previous_tag","requested_at","requested_by"}
#     -> git fetch --tags, verify the tag, refuse local changes, git checkout <target_tag>, docker compose up
#        -d --build (with GIT_COMMIT/GIT_TAG exported for the image), wait for GET /health to report the
#        target's version; on any failure check out the commit it started from, rebuild, wait for /health.
#        Answers result.json {"id","status":"ok"|"rolled_back"|"failed","version","message","finished_at"}
#
# THE HOST TRUSTS NOTHING THE CONTAINER WRITES (docs/DEPLOYMENT.md, "Trust between the container and the host"):
#  * The update dir belongs to the container. This script only READS a request there, once, into memory:
#    perl sysopen with O_NOFOLLOW|O_NONBLOCK (a symlink, a FIFO or a device is refused), the size and type
#    checked on the opened handle, the file must belong to the container's UID (so no root file, not even
#    through a hard link or a swapped directory), then unlinks that very file (same device and inode). It
#    never moves, chmods or writes anything there.
#  * Answers go to PROXMOX_MCP_ANSWER_DIR, a root-owned directory (every component up to / root-owned, no
#    symlink, not writable by others) that the container gets read-only; its own state (the tags it has
#    seen, the downgrade flag) lives in PROXMOX_MCP_STATE_DIR, root only.
#  * A request is a wish, not an order. What runs is verified here: the tag must be an annotated tag signed
#    by a key in PROXMOX_MCP_SIGNERS (git verify-tag with an SSH allowed-signers file that setup.sh pins);
#    tags are fetched without --force, and a tag whose object differs from the one first seen is refused
#    ("moved"); a downgrade needs the admin on the host (the flag file PROXMOX_MCP_STATE_DIR/allow-downgrade
#    holding the target tag, made by root, used once); and the new release's compose files must ask for
#    exactly what the installed ones ask for (privileges, capabilities, devices, volumes, networks, pid/ipc,
#    security options, users, build contexts, env files, images): anything else is refused before anything
#    is checked out or started.
#
# Settings (from the unit, or the environment): PROXMOX_MCP_INSTALL_DIR, PROXMOX_MCP_UPDATE_DIR,
# PROXMOX_MCP_ANSWER_DIR (default $PROXMOX_MCP_STATE_DIR/answers), PROXMOX_MCP_STATE_DIR (default
# /var/lib/proxmox-mcp-updater), PROXMOX_MCP_SIGNERS (default /etc/proxmox-mcp/release-signers),
# PROXMOX_MCP_CONTAINER_UID (default 10001), PROXMOX_MCP_ENV_FILE (for MCP_HOST/MCP_PORT/MCP_TLS_CERT),
# PROXMOX_MCP_HEALTH_TIMEOUT (seconds, default 180), PROXMOX_MCP_COMPOSE (default "docker compose").
set -euo pipefail
umask 022

# A release tag; the same expression as releaseTagPattern in lib/self/update-protocol.ts.
RELEASE_TAG_ERE='^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'
# Compose files Docker Compose reads on its own in the project directory: a release may not add one.
COMPOSE_FILES=(compose.yaml compose.yml docker-compose.yaml docker-compose.yml compose.override.yaml compose.override.yml docker-compose.override.yaml docker-compose.override.yml)

main() {
  INSTALL_DIR="${PROXMOX_MCP_INSTALL_DIR:-/opt/proxmox-mcp}"
  UPDATE_DIR="${PROXMOX_MCP_UPDATE_DIR:-/var/lib/proxmox-mcp/update}"
  STATE_DIR="${PROXMOX_MCP_STATE_DIR:-/var/lib/proxmox-mcp-updater}"
  ANSWER_DIR="${PROXMOX_MCP_ANSWER_DIR:-$STATE_DIR/answers}"
  SIGNERS="${PROXMOX_MCP_SIGNERS:-/etc/proxmox-mcp/release-signers}"
  CONTAINER_UID="${PROXMOX_MCP_CONTAINER_UID:-10001}"
  ENV_FILE="${PROXMOX_MCP_ENV_FILE:-$INSTALL_DIR/.env}"
  HEALTH_TIMEOUT="${PROXMOX_MCP_HEALTH_TIMEOUT:-180}"
  read -r -a COMPOSE <<<"${PROXMOX_MCP_COMPOSE:-docker compose}"
  [[ "$CONTAINER_UID" =~ ^[0-9]+$ ]] || { log "PROXMOX_MCP_CONTAINER_UID must be a number"; exit 1; }

  local lock_dir="${RUNTIME_DIRECTORY:-/run/lock}"
  [[ -d "$lock_dir" && -w "$lock_dir" ]] || lock_dir="${TMPDIR:-/tmp}"
  exec 9>"$lock_dir/proxmox-mcp-update.lock"
  flock -n 9 || { log "another run is active; the path unit starts this again when it ends"; exit 0; }

  local problem
  for dir in "$STATE_DIR" "$ANSWER_DIR"; do
    if problem="$(private_dir "$dir")"; then :; else log "refusing to run: $problem"; exit 1; fi
  done

  local failed=0 taken
  for kind in check update; do
    taken=0
    if [[ "$kind" == check ]]; then take_request check check-request.json || taken=$?; else take_request update request.json || taken=$?; fi
    if ((taken == 0)); then
      if [[ "$kind" == check ]]; then handle_check || failed=1; else handle_update || failed=1; fi
    elif ((taken == 2)); then
      failed=1
    fi
  done
  exit "$failed"
}

log() { printf 'proxmox-mcp-update: %s\n' "$*" >&2; }

now() { date -u +%Y-%m-%dT%H:%M:%SZ; }

# private_dir DIR: create DIR (0755) when missing, and check that neither it nor any directory above it is a
# symlink, belongs to anyone but root (or whoever runs this), or is writable by others (sticky dirs aside).
# Prints the problem and fails otherwise.
private_dir() {
  DIR="$1" perl -e '
    use strict; use warnings;
    my $dir = $ENV{DIR};
    print("$dir must be an absolute path\n"), exit 1 unless $dir =~ m{\A/};
    my @parts = grep { length } split m{/}, $dir;
    my $path = "";
    for my $i (0 .. $#parts) {
      $path .= "/$parts[$i]";
      if (!lstat $path) { last if $i == $#parts; print("$path does not exist\n"); exit 1 }
      if (-l _) { print("$path is a symlink\n"); exit 1 }
      if (!-d _) { print("$path is not a directory\n"); exit 1 }
      my @st = lstat $path;
      if ($st[4] != 0 && $st[4] != $>) { print("$path belongs to uid $st[4], not root\n"); exit 1 }
      if (($st[2] & 022) && !($st[2] & 01000)) { printf("%s is writable by others (mode %o)\n", $path, $st[2] & 07777); exit 1 }
    }
    if (!-e $dir) { mkdir($dir, 0755) or do { print("cannot create $dir: $!\n"); exit 1 } }
    lstat $dir; if (-l _ || !-d _) { print("$dir is not a directory\n"); exit 1 }
    exit 0'
}

# take_request KIND FILE: read FILE from the update dir into memory (never following a link), remove it (so it
# runs once) and validate it into the REQ_* variables. Returns 1 when there is none; 2 when it was refused
# (and answered "failed" here).
take_request() {
  local kind="$1"
  REQ_ID='' REQ_TARGET='' REQ_PREVIOUS='' REQ_BY=''
  local parsed
  # Prints "none", or the fields one per line ("ok", id, target, previous, requested_by) or ("refused", id, reason).
  parsed="$(KIND="$kind" FILE_NAME="$2" DIR="$UPDATE_DIR" OWNER="$CONTAINER_UID" TAG_ERE="$RELEASE_TAG_ERE" perl -MJSON::PP -MB -MFcntl -e '
      use strict; use warnings;
      binmode STDOUT, ":encoding(UTF-8)";
      my ($kind, $name, $dir) = ($ENV{KIND}, $ENV{FILE_NAME}, $ENV{DIR});
      my $tag = qr/$ENV{TAG_ERE}/;
      my $id = "";
      sub out { print join("\n", @_), "\n"; exit 0 }
      sub refuse { out("refused", $id, @_) }
      sub shown { my $v = substr($_[0], 0, 40); $v =~ s/[^\x20-\x7e]/?/g; $v }
      my @dir = lstat $dir or out("none");
      refuse("the update dir $dir is not a directory (a symlink?)") if -l _ || !-d _;
      my $path = "$dir/$name";
      my $fh;
      if (!sysopen($fh, $path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK)) {
        out("none") if $!{ENOENT};
        my $why = $!{ELOOP} ? "a symlink" : "unreadable ($!)";
        unlink $path;   # the name in the update dir only: never what a link points to
        refuse("$name must be a plain file (not $why)");
      }
      my @st = stat $fh;
      my $remove = sub { my @now = lstat $path; unlink $path if @now && $now[0] == $st[0] && $now[1] == $st[1] };
      if (!-f _) { $remove->(); refuse("$name must be a plain file (not a FIFO, device or directory)") }
      if ($st[4] != $ENV{OWNER}) { $remove->(); refuse("$name must belong to the container user (uid $ENV{OWNER}), not uid $st[4]") }
      if ($st[7] > 4096) { $remove->(); refuse("$name is larger than 4 KiB") }
      my $text = "";
      my $got = sysread($fh, $text, 4097);
      close $fh;
      $remove->();
      refuse("$name could not be read") unless defined $got;
      refuse("$name is larger than 4 KiB") if length($text) > 4096;
      my @again = lstat $dir;
      refuse("the update dir changed while $name was read") unless @again && $again[0] == $dir[0] && $again[1] == $dir[1] && -d _;
      my $d = eval { JSON::PP->new->utf8->decode($text) };
      refuse("$name is not JSON") unless defined $d;
      refuse("$name is not a JSON object") unless ref $d eq "HASH";
      my $is_string = sub { my $v = shift; defined $v && !ref $v && (B::svref_2object(\$v)->FLAGS & B::SVp_POK) };
      if ($is_string->($d->{id}) && $d->{id} =~ /\A[A-Za-z0-9._:-]{1,100}\z/) { $id = $d->{id} }
      else { refuse("id must be a string of 1-100 characters A-Z a-z 0-9 . _ : -") }
      my @keys = $kind eq "update"
        ? qw(id action target_tag previous_tag requested_at requested_by)
        : qw(id action requested_at requested_by);
      my %known = map { $_ => 1 } @keys;
      my @unknown = sort grep { !$known{$_} } keys %$d;
      refuse("unknown field(s) " . join(", ", map { shown($_) } @unknown) . "; $name has exactly: @keys") if @unknown;
      refuse(qq{action must be "$kind" in $name, not "} . (ref $d->{action} ? "(not a string)" : shown($d->{action} // "")) . q{"})
        unless $is_string->($d->{action}) && $d->{action} eq $kind;
      my @missing = grep { !exists $d->{$_} } @keys;
      refuse("missing field(s) @missing") if @missing;
      for my $k (@keys) { refuse("$k must be a string") unless $is_string->($d->{$k}) }
      refuse("requested_at must be an ISO 8601 time in UTC (2026-01-01T12:00:00.000Z)")
        unless $d->{requested_at} =~ /\A[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]{1,9})?Z\z/;
      refuse("requested_by must be 1-100 characters without control characters")
        unless $d->{requested_by} =~ /\A[^\x00-\x1f\x7f]{1,100}\z/;
      if ($kind eq "update") {
        for my $k (qw(target_tag previous_tag)) {
          my $v = $d->{$k};
          refuse(qq{$k "} . shown($v) . q{" is not a release tag (vX.Y.Z)}) unless length($v) <= 64 && $v =~ $tag && $v !~ /\n/;
        }
      }
      out("ok", $id, $d->{target_tag} // "", $d->{previous_tag} // "", $d->{requested_by});')" || parsed=$'refused\n\ncannot read the request'
  local -a field
  mapfile -t field <<<"$parsed"
  [[ "${field[0]}" == none ]] && return 1
  REQ_ID="${field[1]:-}"
  if [[ "${field[0]}" != ok ]]; then
    refuse "$kind" "${field[2]:-refused}"
    return 2
  fi
  REQ_TARGET="${field[2]:-}" REQ_PREVIOUS="${field[3]:-}" REQ_BY="${field[4]:-}"
  log "$kind request $REQ_ID from $REQ_BY${REQ_TARGET:+: $REQ_TARGET}"
  return 0
}

# refuse KIND MESSAGE: answer a request that cannot be taken.
refuse() {
  if [[ "$1" == check ]]; then answer_check failed "refused: $2" || true; else answer_update failed "$(checkout_version)" "refused: $2" || true; fi
}

enter_checkout() {
  cd "$INSTALL_DIR" 2>/dev/null || { echo "install dir $INSTALL_DIR not found"; return 1; }
  [[ -d .git ]] || { echo "$INSTALL_DIR is not a git checkout"; return 1; }
}

# git fetch --tags WITHOUT --force: a tag that moved in origin is rejected by git ("would clobber existing tag").
fetch_tags() {
  local out status=0
  out="$(git fetch --tags origin 2>&1)" || status=$?
  if ((status != 0)) && [[ "$out" == *"would clobber existing tag"* ]]; then
    printf 'a release tag was moved in origin (%s): refused; if that was deliberate, the admin checks it and deletes the local tag on the host' \
      "$(sed -n 's/.*\] *\([^ ]*\) *-> .*would clobber existing tag.*/\1/p' <<<"$out" | head -n 3 | paste -sd, -)"
    return "$status"
  fi
  out="$(grep -v '^From \|^ [*=+-] \|^   [0-9a-f]' <<<"$out" || true)"
  printf '%s' "$(tail -n 3 <<<"$out" | tr '\n' ' ')"
  return "$status"
}

release_tags() { git tag --list 'v[0-9]*' --sort=-v:refname | grep -E "$RELEASE_TAG_ERE" || true; }

tag_at_head() { git tag --points-at HEAD --list 'v[0-9]*' --sort=-v:refname | grep -E "$RELEASE_TAG_ERE" | head -n 1 || true; }

checkout_version() {
  [[ -f "$INSTALL_DIR/package.json" ]] || return 0
  perl -MJSON::PP -0777 -ne 'my $d = eval { decode_json($_) }; print $d->{version} // "" if ref $d eq "HASH"' "$INSTALL_DIR/package.json" 2>/dev/null || true
}

# root_file PATH: a regular file, not a symlink, owned by root (or whoever runs this), not writable by others.
root_file() {
  [[ -f "$1" && ! -L "$1" ]] || return 1
  local owner mode
  read -r owner mode < <(stat -c '%u %a' "$1")
  [[ "$owner" == 0 || "$owner" == "$(id -u)" ]] && (((8#$mode & 8#022) == 0))
}

# verify_tag TAG: an annotated tag, signed by a pinned key, and the same tag object as when first seen.
verify_tag() {
  local tag="$1" object pinned out
  if ! root_file "$SIGNERS" || [[ ! -s "$SIGNERS" ]]; then
    echo "no release-signing key is pinned on the host ($SIGNERS missing, empty, or not root's): run ./setup.sh --release-signers FILE on the host; nothing was changed"
    return 1
  fi
  [[ "$(git cat-file -t "refs/tags/$tag" 2>/dev/null)" == tag ]] || { echo "$tag is not a signed (annotated) tag; refused"; return 1; }
  # Only SSH signatures: a GPG signature would be checked against root's keyring, which nobody pinned.
  if ! git cat-file tag "refs/tags/$tag" | grep -qx -- '-----BEGIN SSH SIGNATURE-----'; then
    echo "$tag is not signed with an SSH key (the only kind pinned in $SIGNERS); refused"
    return 1
  fi
  local gnupg
  gnupg="$(mktemp -d)"
  if ! out="$(GNUPGHOME="$gnupg" git -c gpg.ssh.allowedSignersFile="$SIGNERS" -c gpg.ssh.revocationFile= verify-tag "refs/tags/$tag" 2>&1)"; then
    rm -rf "$gnupg"
    echo "$tag is not signed by a key in $SIGNERS; refused ($(tail -n 1 <<<"$out" | tr -d '\n' | cut -c1-160))"
    return 1
  fi
  rm -rf "$gnupg"
  object="$(git rev-parse "refs/tags/$tag")"
  pinned="$(awk -v t="$tag" '$1 == t { print $2; exit }' "$STATE_DIR/tags" 2>/dev/null || true)"
  if [[ -n "$pinned" && "$pinned" != "$object" ]]; then
    echo "$tag moved: it was $pinned when this host first saw it, now $object; refused (the admin checks it on the host)"
    return 1
  fi
  [[ -n "$pinned" ]] || printf '%s %s\n' "$tag" "$object" >>"$STATE_DIR/tags"
}

# is_downgrade FROM_VERSION TO_VERSION: true when TO is older (semver precedence, pre-releases before releases).
is_downgrade() {
  FROM="$1" TO="$2" perl -e '
    sub parse { my ($v) = @_; $v =~ /\Av?(\d+)\.(\d+)\.(\d+)(?:-(.+))?\z/ or return; ($1, $2, $3, $4) }
    my @f = parse($ENV{FROM}) or exit 1; my @t = parse($ENV{TO}) or exit 1;
    for my $i (0 .. 2) { exit 0 if $t[$i] < $f[$i]; exit 1 if $t[$i] > $f[$i] }
    exit 0 if defined $t[3] && !defined $f[3];
    exit 1 if !defined $t[3] || !defined $f[3];
    my @a = split /\./, $t[3]; my @b = split /\./, $f[3];
    for my $i (0 .. ($#a < $#b ? $#a : $#b)) {
      my ($x, $y) = ($a[$i], $b[$i]);
      my $c = ($x =~ /\A\d+\z/ && $y =~ /\A\d+\z/) ? $x <=> $y : ($x =~ /\A\d+\z/) ? -1 : ($y =~ /\A\d+\z/) ? 1 : $x cmp $y;
      exit 0 if $c < 0; exit 1 if $c > 0;
    }
    exit(@a < @b ? 0 : 1)'
}

# downgrade_allowed TAG: the admin wrote TAG into STATE_DIR/allow-downgrade on the host (as root). Used once.
downgrade_allowed() {
  local flag="$STATE_DIR/allow-downgrade"
  root_file "$flag" || return 1
  grep -qxF -- "$1" "$flag" || return 1
  rm -f -- "$flag"
}

# compose_profile: on stdin a compose file; prints what it asks of the host, one line per setting, sorted.
compose_profile() {
  perl -e '
    use strict; use warnings;
    my %sensitive = map { $_ => 1 } qw(privileged cap_add cap_drop devices device_cgroup_rules volumes volumes_from
      network_mode networks pid ipc uts userns_mode cgroup cgroup_parent security_opt user group_add sysctls
      read_only tmpfs build image env_file extends include runtime isolation configs secrets ports extra_hosts
      init shm_size ulimits oom_kill_disable oom_score_adj gpus storage_opt credential_spec platform);
    my @stack;   # [indent, key, sensitive]
    my %seen;
    while (my $line = <STDIN>) {
      $line =~ s/\r?\n\z//;
      next if $line =~ /\A\s*(#.*)?\z/;
      $line =~ s/\s+#[^"\x27]*\z//;          # a trailing comment (not inside quotes)
      my ($indent) = $line =~ /\A( *)/;
      $indent = length $indent;
      pop @stack while @stack && $stack[-1][0] >= $indent;
      my $text = $line =~ s/\A\s+//r;
      $text =~ s/\s+\z//;
      my $inside = grep { $_->[2] } @stack;
      my $key;
      if ($text =~ /\A(?:-\s+)?("[^"]*"|\x27[^\x27]*\x27|[A-Za-z0-9_.<-]+)\s*:(?:\s|\z)/) { ($key = $1) =~ s/\A["\x27]|["\x27]\z//g }
      my $here = defined $key && $sensitive{$key};
      my $path = join "/", map { $_->[1] } @stack;
      # Anchors, aliases and merge keys could carry settings from anywhere, a flow mapping can hold a setting
      # on a line whose own key is harmless (`evil: {image: x, privileged: true}`), and complex (`? key`),
      # escaped (`"privil\x65ged"`) or tagged keys hide their name: every such line counts.
      my $tricky = $text =~ /(?:\A|[\s:\[{,-])[&*][A-Za-z0-9_-]/ || (defined $key && $key eq "<<")
        || $text =~ /\A(?:-\s+)?\?(?:\s|\z)/ || $text =~ /\A(?:-\s+)?!/ || $text =~ /\A(?:-\s+)?"[^"]*\\/
        || grep { $text =~ /[{,]\s*["\x27]?\Q$_\E["\x27]?\s*:/ } keys %sensitive;
      $seen{"$path: $text"} = 1 if $inside || $here || $tricky;
      push @stack, [$indent, $key // "-", $here || $inside] if defined $key;
    }
    print "$_\n" for sort keys %seen;'
}

# compose_check TAG: the compose files at TAG ask the host for exactly what the installed ones ask for.
compose_check() {
  local tag="$1" file old new differences=''
  for file in "${COMPOSE_FILES[@]}"; do
    old="$(git show "HEAD:$file" 2>/dev/null | compose_profile || true)"
    new="$(git show "refs/tags/$tag:$file" 2>/dev/null | compose_profile || true)"
    if git cat-file -e "refs/tags/$tag:$file" 2>/dev/null && ! git cat-file -e "HEAD:$file" 2>/dev/null; then
      differences+="$file is new in $tag; "
      continue
    fi
    [[ "$old" == "$new" ]] && continue
    differences+="$file: $(diff <(printf '%s\n' "$old") <(printf '%s\n' "$new") | grep '^[<>]' | sed -e 's/^</removed/' -e 's/^>/added/' | head -n 4 | paste -sd';' -); "
  done
  [[ -z "$differences" ]] && return 0
  echo "the compose file of $tag asks the host for something the installed one does not (${differences%; }); refused before anything started: review it and update by hand on the host"
  return 1
}

handle_check() {
  local problem status=ok message
  problem="$(enter_checkout)" || { answer_check failed "$problem"; return 1; }
  cd "$INSTALL_DIR"
  if problem="$(fetch_tags)"; then
    message="fetched the tags of origin in $INSTALL_DIR"
  else
    status=failed
    message="git fetch --tags failed in $INSTALL_DIR: $problem; the tags listed are the ones known before"
  fi
  answer_check "$status" "$message"
  [[ "$status" == ok ]]
}

handle_update() {
  local problem wanted="$REQ_TARGET" from previous_commit current
  problem="$(enter_checkout)" || { answer_update failed '' "$problem"; return 1; }
  cd "$INSTALL_DIR"
  from="$(tag_at_head)"
  previous_commit="$(git rev-parse HEAD)"
  from="${from:-$(git rev-parse --short HEAD)}"
  [[ "$from" == "$REQ_PREVIOUS" ]] || log "the request says previous_tag $REQ_PREVIOUS; the checkout is at $from (the rollback goes to the checkout)"

  log "fetching tags"
  problem="$(fetch_tags)" || { answer_update failed "$(checkout_version)" "git fetch --tags failed: $problem"; return 1; }
  if ! git rev-parse --verify --quiet "refs/tags/$wanted^{commit}" >/dev/null; then
    answer_update failed "$(checkout_version)" "there is no release $wanted in origin"
    return 1
  fi
  problem="$(verify_tag "$wanted")" || { answer_update failed "$(checkout_version)" "$problem"; return 1; }
  local tag_version
  tag_version="$(git show "refs/tags/$wanted:package.json" 2>/dev/null | perl -MJSON::PP -0777 -ne 'my $d = eval { decode_json($_) }; print $d->{version} // "" if ref $d eq "HASH"' || true)"
  if [[ "$tag_version" != "${wanted#v}" ]]; then
    answer_update failed "$(checkout_version)" "package.json at $wanted says version '${tag_version}', not ${wanted#v}: the release is inconsistent; nothing was changed"
    return 1
  fi
  if [[ -n "$(git status --porcelain --untracked-files=no)" ]]; then
    answer_update failed "$(checkout_version)" "the checkout in $INSTALL_DIR has local changes; commit or stash them, then update by hand"
    return 1
  fi
  if [[ "$(git rev-parse "refs/tags/$wanted^{commit}")" == "$previous_commit" ]]; then
    answer_update ok "$(checkout_version)" "already at $wanted"
    return 0
  fi
  current="$(checkout_version)"
  if is_downgrade "${current:-0.0.0}" "${wanted#v}"; then
    if ! downgrade_allowed "$wanted"; then
      answer_update failed "$current" "$wanted is older than $from: a downgrade needs the admin on the host (as root: echo $wanted > $STATE_DIR/allow-downgrade, then ask again; the flag is used once); nothing was changed"
      return 1
    fi
    log "downgrade to $wanted allowed by $STATE_DIR/allow-downgrade"
  fi
  problem="$(compose_check "$wanted")" || { answer_update failed "$current" "$problem"; return 1; }

  log "updating $from -> $wanted"
  if git -c advice.detachedHead=false checkout --quiet "refs/tags/$wanted" && compose_up && wait_healthy "${wanted#v}"; then
    answer_update ok "$(checkout_version)" "updated $from -> $wanted"
    return 0
  fi

  log "update to $wanted failed; rolling back to $from"
  if git -c advice.detachedHead=false checkout --quiet "$previous_commit" && compose_up && wait_healthy "$(checkout_version)"; then
    answer_update rolled_back "$(checkout_version)" "update to $wanted failed (no healthy server within ${HEALTH_TIMEOUT}s); back on $from"
    return 0
  fi
  answer_update failed '' "update to $wanted failed and so did the rollback to $from: check 'docker compose logs' in $INSTALL_DIR"
  return 1
}

# docker compose up -d --build, with the checkout's identity as build args (the image has no .git).
compose_up() {
  GIT_COMMIT="$(git rev-parse HEAD)"
  GIT_TAG="$(tag_at_head)"
  export GIT_COMMIT GIT_TAG
  "${COMPOSE[@]}" up -d --build --remove-orphans
}

# wait_healthy VERSION: GET /health until it answers 200 and (when VERSION is given) reports it.
wait_healthy() {
  local version="$1" host port scheme=http
  host="$(env_value "$ENV_FILE" MCP_HOST)"
  port="$(env_value "$ENV_FILE" MCP_PORT)"
  [[ -n "$(env_value "$ENV_FILE" MCP_TLS_CERT)" ]] && scheme=https
  [[ -z "$host" || "$host" == 0.0.0.0 || "$host" == '::' ]] && host=127.0.0.1
  [[ "$host" == *:* ]] && host="[$host]"
  # -k for https: only the version number is read back, and nothing is sent but the path.
  local url="$scheme://$host:${port:-3001}/health" deadline=$((SECONDS + HEALTH_TIMEOUT)) body
  while ((SECONDS < deadline)); do
    if body="$(curl -kfsS --max-time 5 "$url" 2>/dev/null)"; then
      if [[ -z "$version" || "$body" == *"\"version\":\"$version\""* ]]; then
        log "healthy: $body"
        return 0
      fi
    fi
    sleep 3
  done
  log "no healthy answer from $url within ${HEALTH_TIMEOUT}s"
  return 1
}

env_value() { [[ -f "$1" ]] && awk -F= -v key="$2" '$1 == key { sub(/^[^=]*=/, ""); v = $0 } END { print v }' "$1"; }

# answer_update STATUS VERSION MESSAGE: result.json.
answer_update() {
  ID="$REQ_ID" STATUS="$1" VERSION="$2" MESSAGE="$3" FINISHED="$(now)" perl -MJSON::PP -e 'print JSON::PP->new->canonical->encode({
      id => $ENV{ID}, status => $ENV{STATUS}, version => $ENV{VERSION}, message => $ENV{MESSAGE}, finished_at => $ENV{FINISHED} }), "\n"' |
    write_answer result.json
  log "result.json: $1: $3"
}

# answer_check STATUS MESSAGE: tags.json, with the tags and HEAD of the checkout (when there is one).
answer_check() {
  local tags='' head='' head_tag=''
  if [[ -d "$INSTALL_DIR/.git" ]]; then
    tags="$(cd "$INSTALL_DIR" && release_tags | head -n 100)"
    head="$(git -C "$INSTALL_DIR" rev-parse HEAD 2>/dev/null || true)"
    head_tag="$(cd "$INSTALL_DIR" && tag_at_head)"
  fi
  ID="$REQ_ID" STATUS="$1" MESSAGE="$2" TAGS="$tags" HEAD_COMMIT="$head" HEAD_TAG="$head_tag" FINISHED="$(now)" perl -MJSON::PP -e 'print JSON::PP->new->canonical->encode({
      id => $ENV{ID}, status => $ENV{STATUS}, tags => [grep { length } split /\n/, $ENV{TAGS}],
      checked_out_tag => $ENV{HEAD_TAG}, checked_out_commit => $ENV{HEAD_COMMIT},
      message => $ENV{MESSAGE}, finished_at => $ENV{FINISHED} }), "\n"' |
    write_answer tags.json
  log "tags.json: $1: $2"
}

# write_answer FILE: stdin into a new file in the root-owned answer dir, then a rename over FILE there.
# (perl without -C: the values pass through as the bytes they are, UTF-8 in and out.)
write_answer() {
  local tmp
  tmp="$(mktemp "$ANSWER_DIR/.answer.XXXXXX")"
  cat >"$tmp"
  chmod 0644 "$tmp"
  mv -f -- "$tmp" "$ANSWER_DIR/$1"
}

# Everything above is only definitions, and main ends in exit: bash has parsed the whole function before it
# runs, so a checkout that rewrites this file on disk cannot change what runs.
main "$@"
