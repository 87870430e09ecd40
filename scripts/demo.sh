#!/usr/bin/env bash
# `npm run demo`: installs whatever is missing, starts the local registry, runs
# `pulumi up` on the dev stack and prints the layers with their digests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
bash scripts/registry.sh start
bash scripts/nix-daemon.sh start
pulumi stack select dev --create --non-interactive >/dev/null 2>&1 || pulumi stack select dev --non-interactive
pulumi up --yes --stack dev --non-interactive "$@"
pulumi stack output --json layers --stack dev | node scripts/print-layers.js
