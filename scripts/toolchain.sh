#!/usr/bin/env bash
# The OFFLINE DEV TOOLCHAIN: installs/builds what the `dev` stack and the tests need on a
# machine that reaches only Debian's packages, the npm registry and the Go module proxy.
# Production never runs this: it uses the official Pulumi CLI and plugins, the system's Nix
# and cachix (README: "Going to production"). Idempotent; a fast no-op when done.
# Progress goes to stderr. Then: source scripts/env.sh
#
#  1. Debian packages (apt-get only if one is missing).
#  2. npm ci (if node_modules is missing).
#  3. Pulumi CLI v3.248.0 built from Go modules (tools/pulumi-cli/go.mod + go.sum)
#     into $LAYERSTACK_CACHE/pulumi/v3.248.0/bin/pulumi (or symlinked there from an
#     existing v3.248.0 `pulumi` on PATH).
#  4. Plugins from tools/plugins (pulumi-language-nodejs, pulumi-resource-command),
#     cached by a hash of their sources; `command` 1.2.1 installed into PULUMI_HOME.
#  5. Nix (the dev toolchain's own, Debian trixie's nix-bin in a private prefix:
#     scripts/lib/nix-install.sh), linked as <repo>/.layerstack/nix/bin; not on PATH for
#     anything but the dev world (the pulumi wrapper's dev stacks, scripts/test.sh, the bench).
#     Its daemon: scripts/nix-daemon.sh.
#  6. <repo>/.layerstack/bin (first on PATH via env.sh): the `pulumi` wrapper (see
#     scripts/lib/pulumi-wrapper.sh), actionlint and cosign v2.6.5 (tools/cosign/go.mod + go.sum,
#     built into $LAYERSTACK_CACHE/cosign/v2.6.5/bin/cosign). The plugins stay off PATH: next to the
#     dev CLI (language host, pulumi-resource-pulumi-nodejs) and in the dev PULUMI_HOME (command).
#
# Environment: LAYERSTACK_CACHE (default /var/cache/layerstack as root, else
# ~/.cache/layerstack). Root's cache is readable by every user: the tests run stacks as a
# user the Nix daemon does not trust, with this CLI and this Nix.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [ "$(id -u)" = 0 ]; then CACHE="${LAYERSTACK_CACHE:-/var/cache/layerstack}"; else CACHE="${LAYERSTACK_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/layerstack}"; fi
PULUMI_VERSION=v3.248.0
COMMAND_PLUGIN_VERSION=1.2.1
APT_PACKAGES=(patchelf bash-static shellcheck skopeo docker-registry apache2-utils umoci bubblewrap busybox-static curl openssh-server openssh-client openssl util-linux zstd)
BIN="$REPO/.layerstack/bin"
LIBEXEC="$REPO/.layerstack/libexec"
export PULUMI_HOME="$REPO/.layerstack/pulumi-home"
export PULUMI_SKIP_UPDATE_CHECK=true
export PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION=true
export PULUMI_IGNORE_AMBIENT_PLUGINS=true
# GOSUMDB=off: the sum DB is unreachable; go.sum files are committed, and
# -mod=readonly makes the build fail instead of silently adding unpinned sums.
export GOTOOLCHAIN=local GOSUMDB=off GOFLAGS="-mod=readonly -buildvcs=false" CGO_ENABLED=0

step() { echo "toolchain: $*" >&2; }
die() { echo "toolchain: error: $*" >&2; exit 1; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1fs", b - a }'; }

mkdir -p "$CACHE" "$BIN" "$LIBEXEC" "$PULUMI_HOME"
# Serialise concurrent runs (e.g. parallel CI jobs sharing a cache).
if command -v flock >/dev/null; then
  exec 9>"$CACHE/.toolchain.lock"
  flock 9
fi

# ---------------------------------------------------------------- 1. apt
missing=()
for p in "${APT_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" = 0 ] || SUDO="sudo"
  step "apt: installing ${missing[*]}"
  $SUDO apt-get update -qq >&2
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
fi

# ---------------------------------------------------------------- 2. npm
if [ -f "$REPO/package.json" ] && [ ! -d "$REPO/node_modules" ]; then
  if [ -f "$REPO/package-lock.json" ]; then
    step "npm ci"
    (cd "$REPO" && npm ci --no-audit --no-fund >&2)
  else
    step "npm install (no package-lock.json)"
    (cd "$REPO" && npm install --no-audit --no-fund >&2)
  fi
fi

# ---------------------------------------------------------------- Go
if ! command -v go >/dev/null && [ -x /usr/local/go/bin/go ]; then
  export PATH="/usr/local/go/bin:$PATH"
fi
have_go() { command -v go >/dev/null || die "go not found (need Go >= 1.25 on PATH or in /usr/local/go)"; }

# ---------------------------------------------------------------- 3. Pulumi CLI
PULUMI_DIR="$CACHE/pulumi/$PULUMI_VERSION/bin"
PULUMI="$PULUMI_DIR/pulumi"
pulumi_ok() { [ -x "$1" ] && [ "$("$1" version 2>/dev/null)" = "$PULUMI_VERSION" ]; }

if ! pulumi_ok "$PULUMI"; then
  mkdir -p "$PULUMI_DIR"
  # An existing pulumi on PATH (not our wrapper) of exactly the right version?
  existing="$(PATH="$(printf %s "$PATH" | tr ':' '\n' | grep -vxF "$BIN" | paste -sd:)" command -v pulumi || true)"
  if [ -n "$existing" ] && pulumi_ok "$existing"; then
    step "using existing $existing ($PULUMI_VERSION)"
    ln -sfn "$(readlink -f "$existing")" "$PULUMI"
  else
    have_go
    step "building Pulumi CLI $PULUMI_VERSION from Go modules (slow the first time)"
    t0="$(now)"
    (cd "$REPO/tools/pulumi-cli" && go mod download) # checked against the committed go.sum
    step "  module download: $(since "$t0")"
    t1="$(now)"
    tmp="$PULUMI.tmp.$$"
    (cd "$REPO/tools/pulumi-cli" && go build -trimpath -tags osusergo,grpcnotrace \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=$PULUMI_VERSION" \
      -o "$tmp" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi)
    rm -f "$PULUMI"
    mv -f "$tmp" "$PULUMI"
    step "  compile: $(since "$t1"), total $(since "$t0")"
    pulumi_ok "$PULUMI" || die "built $PULUMI but 'pulumi version' is not $PULUMI_VERSION"
  fi
fi
ln -sfn "$PULUMI" "$LIBEXEC/pulumi" # replaced below by the copy next to the plugins
ln -sfn ../../scripts/lib/pulumi-wrapper.sh "$BIN/pulumi"

# ---------------------------------------------------------------- 4. plugins
PLUGINS_SRC="$REPO/tools/plugins"
if [ -f "$PLUGINS_SRC/go.mod" ]; then
  # sha256 over go.mod, go.sum and all *.go files (names + contents, sorted).
  plugins_hash="$(cd "$PLUGINS_SRC" && {
      printf '%s\0' go.mod
      [ -f go.sum ] && printf '%s\0' go.sum
      find . -name '*.go' -type f -printf '%P\0' | LC_ALL=C sort -z
    } | xargs -0 sha256sum | sha256sum | cut -c1-64)"
  OUT="$CACHE/plugins/$plugins_hash/bin"
  if [ ! -x "$OUT/pulumi-language-nodejs" ] || [ ! -x "$OUT/pulumi-resource-command" ]; then
    have_go
    step "building plugins (tools/plugins ${plugins_hash:0:12})"
    t0="$(now)"
    tmpdir="$CACHE/plugins/.tmp.$$"
    rm -rf "$tmpdir"; mkdir -p "$tmpdir/bin"
    (cd "$PLUGINS_SRC" && go build -trimpath -ldflags "-s -w" -o "$tmpdir/bin/" \
      ./cmd/pulumi-language-nodejs ./cmd/pulumi-resource-command) || { rm -rf "$tmpdir"; die "plugin build failed"; }
    rm -rf "$CACHE/plugins/$plugins_hash"
    mv "$tmpdir" "$CACHE/plugins/$plugins_hash"
    step "  plugins built in $(since "$t0")"
  fi
  # Pulumi looks for its "bundled" plugins (language nodejs, resource pulumi-nodejs)
  # next to the resolved pulumi executable, so the real CLI is hard-linked into the
  # plugin dir (same filesystem; falls back to a copy) and run from there. Together
  # with PULUMI_IGNORE_AMBIENT_PLUGINS=true (the wrapper, dev toolchain only) this gives
  # no "using X from $PATH" warnings and ignores stray plugins on the user's PATH.
  real_pulumi="$(readlink -f "$PULUMI")"
  if [ ! "$OUT/pulumi" -ef "$real_pulumi" ]; then
    ln -f "$real_pulumi" "$OUT/pulumi" 2>/dev/null || cp -f "$real_pulumi" "$OUT/pulumi"
  fi
  dyn="$REPO/node_modules/@pulumi/pulumi/pulumi-resource-pulumi-nodejs"
  # The script is generic (it require.resolve()s @pulumi/pulumi from the cwd).
  if [ -f "$dyn" ] && ! cmp -s "$dyn" "$OUT/pulumi-resource-pulumi-nodejs"; then
    install -m 0755 "$dyn" "$OUT/pulumi-resource-pulumi-nodejs"
  fi
  # Never on PATH: an official CLI would pick a plugin on PATH up (with a warning).
  rm -f "$BIN/pulumi-language-nodejs" "$BIN/pulumi-resource-command" "$BIN/pulumi-resource-pulumi-nodejs"
  ln -sfn "$OUT/pulumi" "$LIBEXEC/pulumi"

  marker="$PULUMI_HOME/.layerstack-command-plugin"
  plugin_dir="$PULUMI_HOME/plugins/resource-command-v$COMMAND_PLUGIN_VERSION"
  if [ "$(cat "$marker" 2>/dev/null)" != "$plugins_hash" ] || [ ! -d "$plugin_dir" ]; then
    step "installing resource plugin command $COMMAND_PLUGIN_VERSION into $PULUMI_HOME"
    "$PULUMI" plugin install resource command "$COMMAND_PLUGIN_VERSION" \
      --file "$OUT/pulumi-resource-command" --reinstall >&2
    echo "$plugins_hash" >"$marker"
  fi
else
  die "tools/plugins/go.mod not found"
fi

# ---------------------------------------------------------------- actionlint
# Lints .github/workflows in npm test; pinned by tools/actionlint/go.mod + go.sum.
ACTIONLINT_VERSION=v1.7.12
ACTIONLINT="$CACHE/actionlint/$ACTIONLINT_VERSION/bin/actionlint"
if [ ! -x "$ACTIONLINT" ]; then
  have_go
  step "building actionlint $ACTIONLINT_VERSION"
  (cd "$REPO/tools/actionlint" && GOSUMDB=off go build -mod=readonly -trimpath -o "$ACTIONLINT" github.com/rhysd/actionlint/cmd/actionlint) \
    || die "actionlint build failed"
fi
ln -sfn "$ACTIONLINT" "$BIN/actionlint"

# ---------------------------------------------------------------- cosign
# Signs and attests each layer (issue 23) and verifies them (npm run verify); pinned by
# tools/cosign/go.mod + go.sum. v2, not v3: v2 attaches under cosign's tag scheme
# (sha256-<digest>.sig/.att) unless --new-bundle-format is asked for; v3 defaults to the new
# bundle format and the OCI 1.1 referrers API, which GHCR lacks (lib/commands/sign.ts).
# Production and CI use the official cosign (sigstore/cosign-installer), never this one.
COSIGN_VERSION=v2.6.5
COSIGN="$CACHE/cosign/$COSIGN_VERSION/bin/cosign"
if [ ! -x "$COSIGN" ]; then
  have_go
  step "building cosign $COSIGN_VERSION from Go modules (slow the first time)"
  t0="$(now)"
  mkdir -p "$(dirname "$COSIGN")"
  (cd "$REPO/tools/cosign" && go build -trimpath -ldflags "-s -w -X sigs.k8s.io/release-utils/version.gitVersion=$COSIGN_VERSION" \
    -o "$COSIGN.tmp.$$" github.com/sigstore/cosign/v2/cmd/cosign) || { rm -f "$COSIGN.tmp.$$"; die "cosign build failed"; }
  mv -f "$COSIGN.tmp.$$" "$COSIGN"
  step "  cosign built in $(since "$t0")"
fi
ln -sfn "$COSIGN" "$BIN/cosign"

# ---------------------------------------------------------------- 5. Nix
# shellcheck source=scripts/lib/nix-install.sh
source "$REPO/scripts/lib/nix-install.sh"
install_dev_nix

# ---------------------------------------------------------------- 6. bin dir
# (filled above: pulumi wrapper, plugins; .layerstack/libexec/pulumi = real CLI)

step "ok: pulumi $PULUMI_VERSION, nix $DEV_NIX_VERSION, bin dir $BIN (now: source scripts/env.sh)"
