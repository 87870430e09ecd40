# shellcheck shell=bash
# Source me (from any directory):   source scripts/env.sh
# Puts the offline dev toolchain's `pulumi` wrapper (scripts/lib/pulumi-wrapper.sh, built by
# scripts/toolchain.sh) first on PATH; the stand-in plugins are NOT on PATH (they sit next to
# the dev CLI and in its own PULUMI_HOME), so no other CLI can pick them up. Builds nothing. Never exits the
# calling shell, and does not change its shell options.
#
# It sets NOTHING that a stack inherits: no PULUMI_HOME, no plugin settings, no backend, no
# NIX_CONFIG. The wrapper applies the dev toolchain's settings to the `dev` stack only, and
# the dev stack's Nix settings live in Pulumi.dev.yaml (layerstack:nixConfig). Any other stack
# goes to your own, official `pulumi` with your environment as it is.

LAYERSTACK_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]:-$0}")/.." && pwd)"
export LAYERSTACK_ROOT
export LAYERSTACK_BIN="$LAYERSTACK_ROOT/.layerstack/bin"

# PATH: bin dir first, without duplicating it on repeated sourcing.
case ":$PATH:" in
  *":$LAYERSTACK_BIN:"*) PATH=":$PATH:"; PATH="${PATH//:$LAYERSTACK_BIN:/:}"; PATH="${PATH#:}"; PATH="${PATH%:}" ;;
esac
export PATH="$LAYERSTACK_BIN${PATH:+:$PATH}"
