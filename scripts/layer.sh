#!/usr/bin/env bash
# Build, push and check ONE layer and its ancestors, and nothing else:
#   npm run layer -- <layer id>            (STACK=<stack>, default dev)
# Runs `pulumi up --target` on the layer chain's components, builds, pushes and checks.
# Layers beneath it, and every other layer, are left as they are.
set -euo pipefail
cd "$(dirname "$0")/.."
id=${1:?usage: scripts/layer.sh <layer id> [pulumi up flags...]}
shift
stack=${STACK:-dev}
# shellcheck source=scripts/env.sh
[ -n "${LAYERSTACK_BIN:-}" ] || source scripts/env.sh   # keep an environment already set up
cfg=$(mktemp)
trap 'rm -f "$cfg"' EXIT
pulumi config --json --stack "$stack" > "$cfg"
# The chain and its target patterns, from the stack's layer tree and the naming contract.
out=$(TS_NODE_TRANSPILE_ONLY=true node -r ts-node/register scripts/layer-chain.ts "$cfg" "$stack" "$id")
targets=()
while IFS= read -r t; do targets+=(--target "$t"); done < <(printf '%s\n' "$out" | tail -n +2)
echo "layer.sh: $(printf '%s\n' "$out" | head -n 1)" >&2
pulumi up --yes --stack "$stack" --non-interactive "${targets[@]}" "$@"
