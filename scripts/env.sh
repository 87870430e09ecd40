# shellcheck shell=bash
# Source me (from any directory):   source scripts/env.sh
# Sets up the layerstack environment for the current shell. Builds nothing:
# run scripts/toolchain.sh first (once; it is a fast no-op afterwards).
# Never exits the calling shell, and does not change its shell options.
#
#  - PATH: <repo>/.layerstack/bin first (pulumi wrapper, pulumi-language-nodejs,
#    pulumi-resource-command, pulumi-resource-pulumi-nodejs).
#  - PULUMI_HOME=<repo>/.layerstack/pulumi-home, no update check, no automatic plugin
#    downloads. The dev stack's file backend + passphrase are NOT exported here: the
#    `pulumi` wrapper (scripts/lib/pulumi-wrapper.sh) sets them only for the dev stack.
#  - Nix, offline and daemon-less (root, local store): NIX_CONFIG below.

# Locate the repo root from this file's own path (works when sourced from anywhere).
LAYERSTACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export LAYERSTACK_ROOT
export LAYERSTACK_CACHE="${LAYERSTACK_CACHE:-$HOME/.cache/layerstack}"
export LAYERSTACK_BIN="$LAYERSTACK_ROOT/.layerstack/bin"

# PATH: bin dir first, without duplicating it on repeated sourcing.
case ":$PATH:" in
  *":$LAYERSTACK_BIN:"*) PATH=":$PATH:"; PATH="${PATH//:$LAYERSTACK_BIN:/:}"; PATH="${PATH#:}"; PATH="${PATH%:}" ;;
esac
export PATH="$LAYERSTACK_BIN${PATH:+:$PATH}"

export PULUMI_HOME="$LAYERSTACK_ROOT/.layerstack/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
# Plugins come from next to the real CLI (language nodejs, pulumi-nodejs: see
# toolchain.sh) and from PULUMI_HOME (command 1.2.1), never from $PATH: no
# "using X from $PATH" warnings, no stray plugins. Set it empty to test a plugin on PATH.
export PULUMI_IGNORE_AMBIENT_PLUGINS="${PULUMI_IGNORE_AMBIENT_PLUGINS-true}"
# PULUMI_DIY_BACKEND_DISABLE_CHECKPOINT_BACKUPS deliberately left alone (Pulumi defaults).

# Nix 2.8 honours NIX_CONFIG (newline-separated nix.conf lines, applied on top of
# /etc/nix/nix.conf). Verified as root without nix-daemon: the store is opened
# directly (local store, /nix/store), builds run in-process.
#  - substituters = (empty): offline, never query cache.nixos.org.
#  - build-users-group = (empty): otherwise root-run builds want the nixbld group's
#    users; empty makes root build as itself (needed where no nixbld users exist).
#  - sandbox = false: Debian's nix-bin sandbox does not work in containers.
#  - flakes need `path:` or git-tracked files (untracked files in a git repo are
#    invisible to `nix build .#x`).
export NIX_CONFIG="experimental-features = nix-command flakes
substituters =
sandbox = false
build-users-group =
max-jobs = auto
warn-dirty = false"
