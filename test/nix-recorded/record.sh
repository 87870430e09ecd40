#!/usr/bin/env bash
# Records what the dev toolchain's Nix prints, for the unit tests of the parsers that read it
# (lib/forecast.test.ts, lib/nixCli.test.ts, lib/nixTrust.test.ts). Run as root, with the dev
# daemon up (scripts/nix-daemon.sh start), from the repository:  bash test/nix-recorded/record.sh
# It writes test/nix-recorded/<version>/. The derivations are fixed, so their paths are too.
set -euo pipefail
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
export PATH="$REPO/.layerstack/nix/bin:$PATH" NIX_REMOTE=daemon
export NIX_CONFIG=$'extra-experimental-features = nix-command flakes\nsubstituters =\nflake-registry ='
version=$(nix --version | awk '{ print $3 }')
out="$REPO/test/nix-recorded/$version"
w=/tmp/layerstack-nix-record
rm -rf "$w" && mkdir -p "$w" && chmod 0755 "$w"
mkdir -p "$out"
nix --version >"$out/version.txt"
cat >"$w/default.nix" <<'NIX'
rec {
  dep = derivation { name = "recorded-dep"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo dep > $out" ]; };
  top = derivation { name = "recorded-top"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" "echo ${dep} > $out" ]; };
}
NIX
dep=$(nix-instantiate "$w/default.nix" -A dep 2>/dev/null)
top=$(nix-instantiate "$w/default.nix" -A top 2>/dev/null)
cp "$top" "$out/recorded-top.drv"
nix-store --realise "$dep" >/dev/null 2>&1
depout=$(nix-store -q --outputs "$dep")
nix copy --to "file://$w/cache" "$depout" 2>/dev/null
nix-store --delete "$(nix-store -q --outputs "$top")" "$depout" >/dev/null 2>&1 || true
with_cache=$'\nextra-substituters = file://'"$w"$'/cache\nrequire-sigs = false'
NIX_CONFIG="$NIX_CONFIG$with_cache" nix build --dry-run "$top^*" 2>"$out/dry-run-build-fetch.stderr"
nix build --dry-run "/nix/store/00000000000000000000000000000000-missing.drv^*" 2>"$out/dry-run-unknown.stderr"
nix path-info --json --option substituters "" --store "file://$w/cache" "$depout" /nix/store/00000000000000000000000000000000-missing >"$out/path-info-binary-cache.json"
nix config show --json | node -e 'const c = JSON.parse(require("fs").readFileSync(0, "utf8")); process.stdout.write(JSON.stringify({ substituters: c.substituters, "trusted-substituters": c["trusted-substituters"] }, null, 1) + "\n")' >"$out/config-show-substituters.json"
nix store info --json >"$out/store-info-trusted.json"
# A user the daemon does not trust, adding a substituter and its key.
id layerstack-record >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin layerstack-record
setpriv --reuid layerstack-record --regid "$(id -g layerstack-record)" --clear-groups env -i PATH="$PATH" HOME=/nonexistent \
  NIX_CONFIG="$NIX_CONFIG"$'\nextra-substituters = file:///var/cache/untrusted\nextra-trusted-public-keys = untrusted-1:AAAA' \
  nix store info --json >"$out/store-info-untrusted.json" 2>"$out/store-info-untrusted.stderr"
echo "recorded $out"
