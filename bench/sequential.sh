#!/usr/bin/env bash
# The old workflow, as a plain shell script: for each layer in order, one `nix build`, then
# one `skopeo copy` to the registry. Used by bench/run.ts as the baseline of the "overhead"
# and "sequential build" benchmarks.
#
# usage: bench/sequential.sh FLAKE REGISTRY REPOSITORY TAG ATTR:FORMAT...
# Prints on its last line: "build_s=<seconds spent in nix build> total_s=<seconds>".
set -euo pipefail
flake=$1 registry=$2 repository=$3 tag=$4
shift 4
now() { date +%s.%N; }
t0=$(now) build=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in "$@"; do
  attr=${spec%%:*} format=${spec#*:}
  b0=$(now)
  out=$(nix build --no-link --json "$flake#packages.x86_64-linux.$attr" | grep -o '"out":"[^"]*"' | cut -d'"' -f4)
  b1=$(now)
  build=$(echo "$build + $b1 - $b0" | bc)
  case $format in
    oci) src="oci:$out" ;;
    docker-archive) src="docker-archive:$out" ;;
    stream) "$out" > "$tmp/image.tar"; src="docker-archive:$tmp/image.tar" ;;
  esac
  skopeo copy --quiet --dest-tls-verify=false "$src" "docker://$registry/$repository/$attr:$tag" >&2
done
echo "build_s=$build total_s=$(echo "$(now) - $t0" | bc)"
