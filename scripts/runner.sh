#!/usr/bin/env bash
# `npm run runner -- --stack cu130 [more pulumi up flags]`: applies the GPU runner's resources
# only (`pulumi up --target RUNNER_URN_GLOB`, the naming contract in lib/naming.ts), from a workstation.
# The CI `up` runs on the runner itself and passes `--exclude` with the same glob, so it never
# stops, re-registers or deregisters the runner its own job runs on (README: "Setting up the
# GPU host"). Refuses to run inside a job on a self-hosted runner for the same reason.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${GITHUB_ACTIONS:-}" = true ] && [ "${RUNNER_ENVIRONMENT:-}" = self-hosted ]; then
  echo "npm run runner: this is a job on a self-hosted runner; apply the runner from a workstation (its own re-registration would end this job)" >&2
  exit 1
fi
glob=$(TS_NODE_TRANSPILE_ONLY=true node -r ts-node/register -e 'process.stdout.write(require("./lib/naming").RUNNER_URN_GLOB)')
# The program then leaves out the smoke checks, whose Docker provider would have to reach its host
# from here (index.ts). Only ever together with --target: a full `up` would delete the checks.
LAYERSTACK_RUNNER_ONLY=1 exec pulumi up --target "$glob" "$@"
