#!/usr/bin/env bash
# CI fragment for the deployment (called from .ci/run): installs what the deployment tests need, then
#   1. shellcheck on every shell script we ship
#   2. deploy/test-host-update.sh  the host-side updater: update, rollback, refusals, every attack from the container
#   3. deploy/test-setup.sh      setup.sh end to end in a throwaway root, against the simulator
#   4. deploy/test-container.sh  the image built with buildah from local bases, run, /health + MCP tools/list
# Each prints its own 'N passed, N failed' line; this exits non-zero when any step failed.
# Needs root (apt-get, mount namespaces, buildah). Skip the container build with DEPLOY_SKIP_CONTAINER=1.
set -euo pipefail
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"
started=$SECONDS

need=()
command -v shellcheck >/dev/null 2>&1 || need+=(shellcheck)
command -v buildah >/dev/null 2>&1 || need+=(buildah)
command -v debootstrap >/dev/null 2>&1 || need+=(debootstrap)
command -v visudo >/dev/null 2>&1 || need+=(sudo)
command -v unshare >/dev/null 2>&1 || need+=(util-linux)
command -v ssh-keygen >/dev/null 2>&1 || need+=(openssh-client)
command -v sshd >/dev/null 2>&1 || need+=(openssh-server) # sshd -T checks the Match block setup.sh writes
command -v systemd-analyze >/dev/null 2>&1 || need+=(systemd) # verifies the updater's units
command -v curl >/dev/null 2>&1 || need+=(curl)
command -v git >/dev/null 2>&1 || need+=(git)
if ((${#need[@]})); then
  echo "deploy: installing ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

failed=()
echo "== deploy: shellcheck"
scripts=(setup.sh deploy/*.sh deploy/shims/*)
if shellcheck "${scripts[@]}"; then echo "shellcheck: ${#scripts[@]} scripts clean"; else failed+=(shellcheck); fi

echo "== deploy: test-host-update.sh"
bash deploy/test-host-update.sh || failed+=(test-host-update)

echo "== deploy: test-setup.sh"
bash deploy/test-setup.sh || failed+=(test-setup)

if [[ "${DEPLOY_SKIP_CONTAINER:-0}" != 1 ]]; then
  echo "== deploy: test-container.sh"
  bash deploy/test-container.sh || failed+=(test-container)
fi

echo "deploy: $((SECONDS - started)) s"
if ((${#failed[@]})); then echo "deploy: FAILED: ${failed[*]}"; exit 1; fi
echo "deploy: all passed"
