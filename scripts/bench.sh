#!/usr/bin/env bash
# `npm run bench`: the benchmarks of issue 5 (not part of `npm test`). Prints the ratios and
# writes bench/RESULTS.md. Uses a registry of its own on 127.0.0.1:5201.
#   BENCH_ONLY=noop,change,cold,scale,large,drift,forecast,why,scale-drv   run a subset (the other rows are kept from the file)
#   BENCH_DRV_SIZES=1000,3000,10000     the scale-drv group's generated closure sizes (derivations)
#   BENCH_LARGE_MIB=1024                the large layer's size; BENCH_LARGE_KINDS=oci,... its kinds
#   BENCH_REPS=1                        cap repetitions (quick look; results are noisier)
#   BENCH_BUILD_SECONDS=3               the cold build's per-package sleep
#   BENCH_RESULTS=file                  write the table elsewhere (e.g. for a partial run)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh >&2
# shellcheck source=scripts/env.sh
source scripts/env.sh
# The dev world's Nix through its daemon, as the tests run it (scripts/test.sh).
export PATH="$LAYERSTACK_ROOT/.layerstack/nix/bin:$PATH" NIX_REMOTE=daemon
bash scripts/nix-daemon.sh start
exec npx ts-node --transpile-only bench/run.ts "$@"
