#!/usr/bin/env bash
# Open a shell (or run a command) inside a published layer's image, on this machine:
#   npm run layer:shell -- <layer id> [command...]     (STACK=<stack>, default dev)
# Pulls the layer's imageRef (by digest) from the stack's outputs, unpacks it with umoci
# and runs /bin/sh under bubblewrap with the image as root and no network.
set -euo pipefail
cd "$(dirname "$0")/.."
id=${1:?usage: scripts/layer-shell.sh <layer id> [command...]}
shift
stack=${STACK:-dev}
# shellcheck source=scripts/env.sh
[ -n "${LAYERSTACK_BIN:-}" ] || source scripts/env.sh   # keep an environment already set up
ref=$(pulumi stack output --json layers --stack "$stack" | node -e '
  const l = JSON.parse(require("fs").readFileSync(0, "utf8"))[process.argv[1]];
  if (!l) { console.error("no published layer " + process.argv[1]); process.exit(2); }
  console.log(l.imageRef);' "$id")
# Pulled, unpacked and run under bubblewrap as a local check runs (lib/commands/check.ts).
TS_NODE_TRANSPILE_ONLY=true exec node -r ts-node/register scripts/layer-shell.ts "$ref" "$@"
