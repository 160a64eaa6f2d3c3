#!/usr/bin/env bash
# The check harness the deploy test scripts share (sourced, not run): count and print each check, and
# end with the plain 'N passed, N failed' line CI reads.
# shellcheck disable=SC2034  # PASS and FAIL are read by the scripts that source this file
PASS=0
FAIL=0
pass() { PASS=$((PASS + 1)); printf '  ok    %s\n' "$1"; }
fail() { FAIL=$((FAIL + 1)); printf '  FAIL  %s\n' "$1"; }
check() { local what="$1"; shift; if "$@" >/dev/null 2>&1; then pass "$what"; else fail "$what"; fi; }
section() { printf '\n== %s\n' "$*"; }
summary() { printf '%d passed, %d failed\n' "$PASS" "$FAIL"; }
