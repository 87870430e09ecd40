#!/usr/bin/env bash
# `npm test`: installs what is missing (scripts/toolchain.sh, cached), type-checks, checks the
# import rule (dependency-cruiser), then runs
# the unit tests and the end-to-end tests against the real engine, Nix, skopeo and registry.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/toolchain.sh
# shellcheck source=scripts/env.sh
source scripts/env.sh
# The dev world's Nix (scripts/toolchain.sh), multi-user: every Nix client of the tests, root
# included, goes through the daemon (scripts/nix-daemon.sh), as on the hosts users run.
export PATH="$LAYERSTACK_ROOT/.layerstack/nix/bin:$PATH" NIX_REMOTE=daemon
bash scripts/nix-daemon.sh start

npx tsc -p tsconfig.json --noEmit
# Imports run one way (.dependency-cruiser.cjs): index.ts -> settings/ -> components/ -> layers/ -> lib/.
npm run --silent check:deps
results=$(mktemp -d)
status=0
# The Go plugins (language host, command provider) have their own tests.
(cd tools/plugins && GOSUMDB=off go test -v ./... > "$results/go.txt" 2>&1) || status=$?
grep -E '^(--- FAIL|FAIL|ok)' "$results/go.txt" || true
npx jest --selectProjects unit --json --outputFile "$results/unit.json" "$@" || status=$?
npx jest --selectProjects e2e --runInBand --json --outputFile "$results/e2e.json" "$@" || status=$?
# shellcheck disable=SC2016 # the quoted text is JavaScript, not shell
node -e '
  const fs = require("fs");
  let p = 0, f = 0, s = 0;
  for (const n of ["unit", "e2e"]) {
    const file = process.argv[1] + "/" + n + ".json";
    if (!fs.existsSync(file)) { f++; continue; }
    const r = JSON.parse(fs.readFileSync(file, "utf8"));
    p += r.numPassedTests; f += r.numFailedTests + r.numRuntimeErrorTestSuites; s += r.numPendingTests;
  }
  const go = fs.readFileSync(process.argv[1] + "/go.txt", "utf8");
  p += (go.match(/^\s*--- PASS/gm) || []).length;
  f += (go.match(/^\s*--- FAIL/gm) || []).length;
  console.log(`${p} passed, ${f} failed` + (s ? `, ${s} skipped` : ""));
' "$results"
rm -rf "$results"
exit "$status"
