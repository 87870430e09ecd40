#!/usr/bin/env bash
# The `pulumi` on PATH after `source scripts/env.sh` (scripts/toolchain.sh links it as
# <repo>/.layerstack/bin/pulumi). It keeps the two toolchains apart:
#
#   The dev stack (and the project's tests) -> the offline dev toolchain: the Pulumi CLI built
#   from Go modules (<repo>/.layerstack/libexec/pulumi) with the stand-in plugins, in a
#   project-local PULUMI_HOME, with automatic plugin downloads off and plugins on PATH ignored.
#   An `up` ends with a table of the layers published, failed and skipped (scripts/run-table.ts;
#   LAYERSTACK_RUN_TABLE=0 leaves it out). Pass --continue-on-error (as CI does) to let the other
#   branches of the tree publish when one layer fails.
#   For the `dev` stack only, also its file backend and public passphrase:
#     PULUMI_BACKEND_URL=file://<repo>/.layerstack/state   PULUMI_CONFIG_PASSPHRASE=layerstack-dev
#   (each only if you have not set it).
#
#   Any other stack (cu130, cu128, yours) -> your own, official `pulumi`: the next one on
#   PATH, run with your environment exactly as it is, so it acquires the official plugins the
#   normal way and uses your backend and secrets provider. Nothing of the dev toolchain leaks
#   into it. Without an official CLI on PATH this says so and stops.
#
# Which stack: the last --stack/-s argument (organization/project/dev counts as dev). Without
# one: dev when PULUMI_BACKEND_URL is unset and LAYERSTACK_STACK is unset or dev.
# LAYERSTACK_DEV_TOOLCHAIN=1 selects the dev toolchain for any stack name, without the dev
# backend (the tests' throwaway stacks). LAYERSTACK_PULUMI_DEBUG=1 prints the decision.
set -euo pipefail

self="$(readlink -f "${BASH_SOURCE[0]}")"
repo="$(cd "$(dirname "$self")/../.." && pwd)"

stack="" has_stack=0
args=("$@")
i=0
while [ "$i" -lt "${#args[@]}" ]; do
  a="${args[$i]}"
  case "$a" in
    --) break ;;
    --stack|-s) has_stack=1; stack="${args[$((i + 1))]:-}"; i=$((i + 1)) ;;
    --stack=*) has_stack=1; stack="${a#--stack=}" ;;
    -s=*) has_stack=1; stack="${a#-s=}" ;;
  esac
  i=$((i + 1))
done

is_dev=0
if [ "$has_stack" = 1 ]; then
  [ "${stack##*/}" = dev ] && is_dev=1
elif [ -z "${PULUMI_BACKEND_URL:-}" ] && { [ -z "${LAYERSTACK_STACK:-}" ] || [ "${LAYERSTACK_STACK}" = dev ]; }; then
  is_dev=1
fi
dev_toolchain=$is_dev
[ "${LAYERSTACK_DEV_TOOLCHAIN:-}" = 1 ] && dev_toolchain=1

if [ "$dev_toolchain" = 0 ]; then
  # The official CLI: the first `pulumi` on PATH that is not this wrapper.
  official=""
  IFS=: read -r -a dirs <<<"$PATH"
  for d in "${dirs[@]}"; do
    { [ -n "$d" ] && [ -x "$d/pulumi" ]; } || continue
    [ "$(readlink -f "$d/pulumi")" = "$self" ] && continue
    official="$d/pulumi"
    break
  done
  if [ -n "${LAYERSTACK_PULUMI_DEBUG:-}" ]; then
    echo "pulumi wrapper: stack '${stack:-<none>}' -> official CLI ${official:-<none>}" >&2
  fi
  if [ -z "$official" ]; then
    echo "pulumi (layerstack): stack '${stack:-<selected>}' runs on the official Pulumi CLI, and there is none on PATH besides this dev wrapper." >&2
    echo "  Install it (https://www.pulumi.com/docs/install/; in CI: pulumi/actions). The CLI in .layerstack/ serves only the dev stack and the tests." >&2
    exit 127
  fi
  exec "$official" "$@"
fi

real="$repo/.layerstack/libexec/pulumi"
if [ ! -x "$real" ]; then
  echo "pulumi (layerstack): $real missing; run scripts/toolchain.sh (the offline dev toolchain)" >&2
  exit 127
fi
# LAYERSTACK_PULUMI_HOME: a copy of it for a user who cannot write the checkout's (the tests'
# untrusted Nix user, test/support/testUser.ts).
export PULUMI_HOME="${LAYERSTACK_PULUMI_HOME:-$repo/.layerstack/pulumi-home}"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
# Resource operations at once. The engine's default is 4 per CPU (8 on 2 cores), which would
# start the 12 layers' builds in waves; they are processes that mostly wait for Nix, which
# bounds the real work itself (max-jobs, cores). The CI workflow sets the same.
export PULUMI_PARALLEL="${PULUMI_PARALLEL:-64}"
if [ "$is_dev" = 1 ]; then
  # The dev stack's Nix: the dev toolchain's own, through its daemon (scripts/nix-daemon.sh),
  # as on a multi-user host. (The tests' stacks get theirs from scripts/test.sh.)
  if [ -x "$repo/.layerstack/nix/bin/nix" ]; then
    export PATH="$repo/.layerstack/nix/bin:$PATH" NIX_REMOTE=daemon
    case "${1:-}" in up|update|preview|refresh|destroy) bash "$repo/scripts/nix-daemon.sh" start ;; esac
  fi
  if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
    mkdir -p "$repo/.layerstack/state"
    export PULUMI_BACKEND_URL="file://$repo/.layerstack/state"
  fi
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE=layerstack-dev
  fi
fi
if [ -n "${LAYERSTACK_PULUMI_DEBUG:-}" ]; then
  echo "pulumi wrapper: stack '${stack:-<none>}' -> dev toolchain (dev=$is_dev) PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-<unset>}" >&2
fi
case "${1:-}" in up|update) ;; *) exec "$real" "$@" ;; esac
case " $* " in *" --json "*|*" --event-log"*) exec "$real" "$@" ;; esac
[ "${LAYERSTACK_RUN_TABLE:-1}" != 0 ] || exec "$real" "$@"
# An up: its engine events go to a private file (--event-log exists with PULUMI_DEBUG_COMMANDS in
# CLI 3.248), then the table of the layers is printed from them and the stack's config.
d=$(mktemp -d)
trap 'rm -rf "$d"' EXIT
status=0
PULUMI_DEBUG_COMMANDS=true "$real" "$@" --event-log "$d/events.jsonl" || status=$?
stack_args=()
[ "$has_stack" = 0 ] || stack_args=(--stack "$stack")
if [ -s "$d/events.jsonl" ] && "$real" config --json "${stack_args[@]}" >"$d/config.json" 2>/dev/null; then
  (cd "$repo" && TS_NODE_TRANSPILE_ONLY=true node -r ts-node/register scripts/run-table.ts --events "$d/events.jsonl" --config "$d/config.json") >&2 || true
fi
exit "$status"
