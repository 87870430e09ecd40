#!/usr/bin/env bash
# Makes sure Debian's openssh-server is installed, for test/e2e/runner.test.ts (a real sshd on
# 127.0.0.1). Idempotent; prints the sshd path. scripts/toolchain.sh should list openssh-server
# in APT_PACKAGES; until it does, this installs it the same way (apt-get, as root or with sudo).
set -euo pipefail
if ! dpkg-query -W -f='${Status}' openssh-server 2>/dev/null | grep -q 'install ok installed'; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  echo "openssh-server.sh: apt: installing openssh-server" >&2
  $SUDO apt-get update -qq >&2
  # No service start: the test runs its own sshd with its own config (policy-rc.d may refuse anyway).
  $SUDO env DEBIAN_FRONTEND=noninteractive RUNLEVEL=1 apt-get install -y -qq --no-install-recommends openssh-server >&2
fi
[ -x /usr/sbin/sshd ] || { echo "openssh-server.sh: /usr/sbin/sshd missing after install" >&2; exit 1; }
echo /usr/sbin/sshd
