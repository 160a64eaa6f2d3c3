#!/usr/bin/env bash
# Installs OpenSSH's server for tests/ssh.test.ts (which starts its own sshd on 127.0.0.1).
# Idempotent: does nothing when /usr/sbin/sshd exists. Needs root (or sudo) and apt-get (Debian/Ubuntu).
set -euo pipefail

if [ -x /usr/sbin/sshd ]; then
  echo "sshd already installed: $(/usr/sbin/sshd -V 2>&1 | head -n1)"
  exit 0
fi

if ! command -v apt-get >/dev/null 2>&1; then
  echo "apt-get not found: install OpenSSH's server (sshd at /usr/sbin/sshd) with your package manager." >&2
  exit 1
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "Run this as root (or install sudo): it installs the openssh-server package." >&2
    exit 1
  fi
fi

export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends openssh-server openssh-client
# The package's postinst may start a system sshd on port 22; the tests do not need it, leave it be.
/usr/sbin/sshd -V 2>&1 | head -n1 || true
echo "sshd installed at /usr/sbin/sshd"
