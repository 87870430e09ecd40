#!/usr/bin/env bash
# `npm run graph`: previews the stack ($STACK, default dev) and draws its layer graph as
# Mermaid: each layer's state (unchanged, will rebuild, check not passed), digest and size,
# coloured by the preview's work forecast (unchanged, substitute, build: lib/forecast.ts).
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck source=scripts/env.sh
[ -n "${LAYERSTACK_BIN:-}" ] || source scripts/env.sh   # keep an environment already set up
stack=${STACK:-dev}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
LAYERSTACK_PREVIEW_REPORT="$tmp/report.json" pulumi preview --stack "$stack" --json --show-sames --non-interactive > "$tmp/preview.json"
TS_NODE_TRANSPILE_ONLY=true node -r ts-node/register scripts/graph.js --preview "$tmp/preview.json" --report "$tmp/report.json"
