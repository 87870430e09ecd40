#!/usr/bin/env bash
# `pulumi` wrapper for layerstack. scripts/toolchain.sh symlinks it as
# <repo>/.layerstack/bin/pulumi, which scripts/env.sh puts first on PATH. It execs
# the real CLI (<repo>/.layerstack/libexec/pulumi -> the cached v3.248.0 build).
#
# Dev-stack defaults -- and ONLY for the dev stack:
#   The `dev` stack lives in a local file backend with a throw-away passphrase:
#     PULUMI_BACKEND_URL=file://<repo>/.layerstack/state
#     PULUMI_CONFIG_PASSPHRASE=layerstack-dev
#   Other stacks (cu130, cu128, ...) use the user's own backend and secrets
#   provider, so these must never leak into them. They are exported only when the
#   command targets dev, i.e. when
#     - the arguments contain `--stack dev`, `--stack=dev`, `-s dev` or `-s=dev`; or
#     - there is no --stack/-s argument at all, PULUMI_BACKEND_URL is unset and
#       LAYERSTACK_STACK is `dev` or unset (note: then `pulumi stack select cu130`
#       etc. also run against the dev backend -- pass --stack or set
#       LAYERSTACK_STACK=cu130 / PULUMI_BACKEND_URL to use your own backend);
#   and each variable only if the user has not set it (for the passphrase: neither
#   PULUMI_CONFIG_PASSPHRASE nor PULUMI_CONFIG_PASSPHRASE_FILE is set).
#   Set LAYERSTACK_PULUMI_DEBUG=1 to print the decision to stderr.
set -euo pipefail

self="$(readlink -f "${BASH_SOURCE[0]}")"
repo="$(cd "$(dirname "$self")/../.." && pwd)"
real="$repo/.layerstack/libexec/pulumi"
if [ ! -x "$real" ]; then
  echo "pulumi (layerstack wrapper): $real missing; run scripts/toolchain.sh" >&2
  exit 127
fi

# Same defaults as scripts/env.sh, for callers that did not source it.
: "${PULUMI_HOME:=$repo/.layerstack/pulumi-home}"
: "${PULUMI_SKIP_UPDATE_CHECK:=true}"
: "${PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION:=true}"
: "${PULUMI_IGNORE_AMBIENT_PLUGINS=true}"
# Resource operations at once. The engine's default is 4 per CPU (8 on 2 cores), which would
# start the 12 layers' builds in waves; they are processes that mostly wait for Nix, which
# bounds the real work itself (max-jobs, cores). The CI workflow sets the same.
: "${PULUMI_PARALLEL:=64}"
export PULUMI_HOME PULUMI_SKIP_UPDATE_CHECK PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION PULUMI_IGNORE_AMBIENT_PLUGINS PULUMI_PARALLEL

stack=""      # value of the last --stack/-s argument
has_stack=0
args=("$@")
i=0
while [ "$i" -lt "${#args[@]}" ]; do
  a="${args[$i]}"
  case "$a" in
    --) break ;;
    --stack|-s)
      has_stack=1
      stack="${args[$((i + 1))]:-}"
      i=$((i + 1))
      ;;
    --stack=*) has_stack=1; stack="${a#--stack=}" ;;
    -s=*) has_stack=1; stack="${a#-s=}" ;;
  esac
  i=$((i + 1))
done

is_dev=0
if [ "$has_stack" = 1 ]; then
  # Accept a fully qualified name too (organization/layerstack/dev).
  [ "${stack##*/}" = dev ] && is_dev=1
elif [ -z "${PULUMI_BACKEND_URL:-}" ] && { [ -z "${LAYERSTACK_STACK:-}" ] || [ "${LAYERSTACK_STACK}" = dev ]; }; then
  is_dev=1
fi

if [ "$is_dev" = 1 ]; then
  if [ -z "${PULUMI_BACKEND_URL:-}" ]; then
    mkdir -p "$repo/.layerstack/state"
    export PULUMI_BACKEND_URL="file://$repo/.layerstack/state"
  fi
  if [ -z "${PULUMI_CONFIG_PASSPHRASE:-}" ] && [ -z "${PULUMI_CONFIG_PASSPHRASE_FILE:-}" ]; then
    export PULUMI_CONFIG_PASSPHRASE=layerstack-dev
  fi
fi
if [ -n "${LAYERSTACK_PULUMI_DEBUG:-}" ]; then
  echo "pulumi wrapper: dev=$is_dev stack='${stack}' PULUMI_BACKEND_URL=${PULUMI_BACKEND_URL:-<unset>}" >&2
fi

exec "$real" "$@"
