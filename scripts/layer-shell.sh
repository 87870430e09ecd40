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
tls=true
# Loopback (host names in any case, as lib/reference.ts isLoopbackRegistry) is plain HTTP.
case $(printf '%s' "$ref" | tr '[:upper:]' '[:lower:]') in 127.*|localhost[:/]*|\[::1\]*) tls=false ;; esac
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
skopeo copy --quiet --src-tls-verify="$tls" "docker://$ref" "oci:$tmp/oci:shell"
umoci raw unpack --image "$tmp/oci:shell" "$tmp/rootfs" >/dev/null 2>&1
[ $# -gt 0 ] || set -- /bin/sh
bwrap --bind "$tmp/rootfs" / --proc /proc --dev /dev --tmpfs /tmp --unshare-all --die-with-parent \
  --clearenv --setenv PATH /usr/local/bin:/usr/bin:/bin:/usr/local/cuda/bin --setenv HOME /root -- "$@"
