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
#     -> git fetch --tags, refuse local changes, git checkout <target_tag>, docker compose up -d --build (with
#        GIT_COMMIT/GIT_TAG exported for the image), wait for GET /health to report the target's version; on
#        any failure check out the commit it started from, rebuild, wait for /health again.
#        Answers result.json {"id","status":"ok"|"rolled_back"|"failed","version","message","finished_at"}
#
# Every request is untrusted input from the container: size-limited, no symlinks, exactly the protocol's keys,
# every value a string of the protocol's form (anything else is answered "failed" with the reason); tags are
# release tags only and must exist after the fetch. Answers are written through a new file and a rename, so
# a planted symlink cannot redirect a root write. Checks run before updates; each request runs once.
#
# Settings (from the unit, or the environment): PROXMOX_MCP_INSTALL_DIR, PROXMOX_MCP_UPDATE_DIR,
# PROXMOX_MCP_ENV_FILE (for MCP_HOST/MCP_PORT), PROXMOX_MCP_HEALTH_TIMEOUT (seconds, default 180),
# PROXMOX_MCP_COMPOSE (default "docker compose").
set -euo pipefail

# A release tag; the same expression as releaseTagPattern in lib/self/update-protocol.ts.
RELEASE_TAG_ERE='^v[0-9]+\.[0-9]+\.[0-9]+(-[0-9A-Za-z-]+(\.[0-9A-Za-z-]+)*)?$'

main() {
  INSTALL_DIR="${PROXMOX_MCP_INSTALL_DIR:-/opt/proxmox-mcp}"
  UPDATE_DIR="${PROXMOX_MCP_UPDATE_DIR:-/var/lib/proxmox-mcp/update}"
  ENV_FILE="${PROXMOX_MCP_ENV_FILE:-$INSTALL_DIR/.env}"
  HEALTH_TIMEOUT="${PROXMOX_MCP_HEALTH_TIMEOUT:-180}"
  read -r -a COMPOSE <<<"${PROXMOX_MCP_COMPOSE:-docker compose}"

  exec 9>"/run/lock/proxmox-mcp-update.lock" 2>/dev/null || exec 9>"${TMPDIR:-/tmp}/proxmox-mcp-update.lock"
  flock -n 9 || { log "another run is active; the path unit starts this again when it ends"; exit 0; }

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

# take_request KIND FILE: move FILE aside (so it runs once) and validate it into the REQ_* variables.
# Returns 1 when there is none; 2 when it was refused (and answered "failed" here).
take_request() {
  local kind="$1" file="$UPDATE_DIR/$2" taken="$UPDATE_DIR/.$2.taken"
  REQ_ID='' REQ_TARGET='' REQ_PREVIOUS='' REQ_BY=''
  [[ -e "$file" || -L "$file" ]] || return 1
  if [[ -L "$file" || ! -f "$file" ]]; then
    rm -f -- "$file"
    refuse "$kind" "$2 must be a plain file (not a symlink)"
    return 2
  fi
  mv -f -- "$file" "$taken"
  if (($(stat -c %s "$taken") > 4096)); then rm -f -- "$taken"; refuse "$kind" "$2 is larger than 4 KiB"; return 2; fi
  local parsed
  # Prints the fields one per line ("ok", id, target, previous, requested_by) or ("refused", id, reason).
  parsed="$(KIND="$kind" FILE_NAME="$2" TAG_ERE="$RELEASE_TAG_ERE" perl -MJSON::PP -MB -0777 -e '
      binmode STDOUT, ":encoding(UTF-8)";
      my ($kind, $name) = ($ENV{KIND}, $ENV{FILE_NAME});
      my $tag = qr/$ENV{TAG_ERE}/;
      my $id = "";
      sub out { print join("\n", @_), "\n"; exit 0 }
      sub refuse { out("refused", $id, @_) }
      sub shown { my $v = substr($_[0], 0, 40); $v =~ s/[^\x20-\x7e]/?/g; $v }
      my $text = do { local $/; <STDIN> };
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
      out("ok", $id, $d->{target_tag} // "", $d->{previous_tag} // "", $d->{requested_by});' <"$taken")" || parsed=$'refused\n\ncannot read the request'
  rm -f -- "$taken"
  local -a field
  mapfile -t field <<<"$parsed"
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

fetch_tags() { git fetch --quiet --tags --force origin 2>&1 | tail -n 3 | tr '\n' ' '; return "${PIPESTATUS[0]}"; }

release_tags() { git tag --list 'v[0-9]*' --sort=-v:refname | grep -E "$RELEASE_TAG_ERE" || true; }

tag_at_head() { git tag --points-at HEAD --list 'v[0-9]*' --sort=-v:refname | grep -E "$RELEASE_TAG_ERE" | head -n 1 || true; }

checkout_version() {
  [[ -f "$INSTALL_DIR/package.json" ]] || return 0
  perl -MJSON::PP -0777 -ne 'my $d = eval { decode_json($_) }; print $d->{version} // "" if ref $d eq "HASH"' "$INSTALL_DIR/package.json" 2>/dev/null || true
}

handle_check() {
  local problem status=ok message
  problem="$(enter_checkout)" || { answer_check failed "$problem"; return 1; }
  cd "$INSTALL_DIR"
  if problem="$(fetch_tags)"; then
    message="fetched the tags of origin in $INSTALL_DIR"
  else
    status=failed
    message="git fetch --tags failed in $INSTALL_DIR (is the remote reachable from the host?): $problem; the tags listed are the ones known before"
  fi
  answer_check "$status" "$message"
  [[ "$status" == ok ]]
}

handle_update() {
  local problem wanted="$REQ_TARGET" from previous_commit
  problem="$(enter_checkout)" || { answer_update failed '' "$problem"; return 1; }
  cd "$INSTALL_DIR"
  from="$(tag_at_head)"
  previous_commit="$(git rev-parse HEAD)"
  from="${from:-$(git rev-parse --short HEAD)}"
  [[ "$from" == "$REQ_PREVIOUS" ]] || log "the request says previous_tag $REQ_PREVIOUS; the checkout is at $from (the rollback goes to the checkout)"

  log "fetching tags"
  problem="$(fetch_tags)" || { answer_update failed "$(checkout_version)" "git fetch --tags failed (is the remote reachable from the host?): $problem"; return 1; }
  if ! git rev-parse --verify --quiet "refs/tags/$wanted^{commit}" >/dev/null; then
    answer_update failed "$(checkout_version)" "there is no release $wanted in origin"
    return 1
  fi
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
  local version="$1" host port
  host="$(env_value "$ENV_FILE" MCP_HOST)"
  port="$(env_value "$ENV_FILE" MCP_PORT)"
  [[ -z "$host" || "$host" == 0.0.0.0 || "$host" == '::' ]] && host=127.0.0.1
  [[ "$host" == *:* ]] && host="[$host]"
  local url="http://$host:${port:-3001}/health" deadline=$((SECONDS + HEALTH_TIMEOUT)) body
  while ((SECONDS < deadline)); do
    if body="$(curl -fsS --max-time 5 "$url" 2>/dev/null)"; then
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

# write_answer FILE: stdin into a new file, then a rename over FILE (never follows a planted symlink).
# (perl without -C: the values pass through as the bytes they are, UTF-8 in and out.)
write_answer() {
  local tmp
  tmp="$(mktemp "$UPDATE_DIR/.answer.XXXXXX")"
  cat >"$tmp"
  chmod 0644 "$tmp"
  mv -f -- "$tmp" "$UPDATE_DIR/$1"
}

# Everything above is only definitions, and main ends in exit: bash has parsed the whole function before it
# runs, so a checkout that rewrites this file on disk cannot change what runs.
main "$@"
