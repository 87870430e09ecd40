#!/usr/bin/env bash
# The dev world's nix-daemon: Nix as users run it, multi-user, with the store owned by root
# and every client (root too, through NIX_REMOTE=daemon) going through the daemon.
#
# usage: scripts/nix-daemon.sh start|stop|status|conf
#
#   start   idempotent: starts `nix-daemon` (the dev toolchain's, scripts/toolchain.sh) as
#           root with NIX_CONF_DIR=<dir> and waits until a client reaches it.
#   stop    stops it and waits for it to exit.
#   status  exit 0 and prints "running ..." when a client reaches it.
#   conf    prints the daemon's nix.conf.
#
# Environment:
#   LAYERSTACK_NIX_DAEMON_DIR     its directory (default /nix/var/nix/layerstack-daemon, one per
#                                 machine as the store is, whichever checkout starts it): nix.conf,
#                                 daemon.pid, daemon.log and, unless NIX_DAEMON_SOCKET_PATH is
#                                 set, the socket. A second DIR (and socket) runs a second daemon
#                                 on the same store, with settings of its own (the tests do).
#   NIX_DAEMON_SOCKET_PATH        the socket (default /nix/var/nix/daemon-socket/socket, Nix's
#                                 own: a client that cannot write the store finds it there).
#   LAYERSTACK_NIX_DAEMON_EXTRA   more nix.conf lines for this daemon (trusted-substituters,
#                                 trusted-public-keys, trusted-users, ...).
#   LAYERSTACK_NIX_CONF_DIR       a machine's own nix.conf directory, used as it is instead
#                                 (what a host's daemon and its clients both read).
#
# The daemon's settings (its nix.conf below) are the dev world's offline ones: no substituter
# to wait on, no sandbox and no build users (a container has neither the namespaces nor the
# users). Only root is trusted: another user's restricted settings are ignored by the daemon,
# as on a real multi-user host (NixOS/nix 2.26 src/libstore/daemon.cc, performOp SetOptions).
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DIR="${LAYERSTACK_NIX_DAEMON_DIR:-/nix/var/nix/layerstack-daemon}"
BIN="$REPO/.layerstack/nix/bin"
SOCKET="${NIX_DAEMON_SOCKET_PATH:-/nix/var/nix/daemon-socket/socket}"

log() { echo "nix-daemon: $*" >&2; }
die() { echo "nix-daemon: error: $*" >&2; exit 1; }

[ -x "$BIN/nix-daemon" ] || die "$BIN/nix-daemon missing: run scripts/toolchain.sh"
mkdir -p "$DIR"
DIR="$(cd "$DIR" && pwd)"
PIDFILE="$DIR/daemon.pid"

conf() {
  if [ -n "${LAYERSTACK_NIX_CONF_DIR:-}" ]; then cat "$LAYERSTACK_NIX_CONF_DIR/nix.conf"; return; fi
  cat <<EOF
# Written by scripts/nix-daemon.sh: the dev world's daemon, offline.
experimental-features = nix-command flakes
substituters =
sandbox = false
build-users-group =
trusted-users = root
max-jobs = auto
flake-registry =
warn-dirty = false
EOF
  [ -z "${LAYERSTACK_NIX_DAEMON_EXTRA:-}" ] || printf '%s\n' "$LAYERSTACK_NIX_DAEMON_EXTRA"
}

pid_alive() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid="$(cat "$PIDFILE" 2>/dev/null)" || return 1
  [[ "$pid" =~ ^[0-9]+$ ]] && kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

reachable() {
  NIX_REMOTE="unix://$SOCKET" "$BIN/nix" --extra-experimental-features nix-command store info >/dev/null 2>&1
}

case "${1:-}" in
  conf) conf ;;
  status)
    if pid="$(pid_alive)" && reachable; then echo "running (pid $pid, socket $SOCKET)"; else echo "not running"; exit 1; fi ;;
  start)
    if pid="$(pid_alive)"; then
      if [ "$(conf)" = "$(cat "$DIR/nix.conf" 2>/dev/null)" ] && reachable; then exit 0; fi
      log "restarting: its settings changed"
      "$0" stop
    fi
    [ "$(id -u)" = 0 ] || die "the daemon runs as root (it owns /nix)"
    conf >"$DIR/nix.conf"
    conf_dir="${LAYERSTACK_NIX_CONF_DIR:-$DIR}"
    mkdir -p "$(dirname "$SOCKET")"
    rm -f "$SOCKET"
    # setsid: its own session, so a test's process group signals leave it alone.
    # Not NIX_REMOTE: a daemon whose own store were the daemon would connect to itself, forever.
    # The dev Nix first on its PATH: it runs its build hook, `nix __build-remote`, from PATH
    # (NixOS/nix 2.26.3 src/libstore/unix/build/hook-instance.cc).
    env -u NIX_REMOTE PATH="$BIN:$PATH" NIX_CONF_DIR="$conf_dir" NIX_DAEMON_SOCKET_PATH="$SOCKET" setsid "$BIN/nix-daemon" </dev/null >>"$DIR/daemon.log" 2>&1 &
    echo $! >"$PIDFILE"
    for _ in $(seq 1 100); do
      reachable && exit 0
      pid_alive >/dev/null || die "nix-daemon exited; see $DIR/daemon.log:
$(tail -n 5 "$DIR/daemon.log")"
      sleep 0.1
    done
    die "nix-daemon did not answer on $SOCKET within 10 s; see $DIR/daemon.log" ;;
  stop)
    if pid="$(pid_alive)"; then
      kill "$pid"
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$PIDFILE" ;;
  *) echo "usage: $0 start|stop|status|conf" >&2; exit 2 ;;
esac
