#!/usr/bin/env bash
# The old workflow, as a plain shell script: for each layer in order, one `nix build`, then
# one `skopeo copy` to the registry. Used by bench/run.ts as the baseline of the "overhead"
# and "sequential build" benchmarks.
#
# usage: bench/sequential.sh FLAKE REGISTRY REPOSITORY TAG ATTR:KIND...
# KIND is the fixture's (fixtures/megapak/layers.json): what a hand-written script would know
# of each layer. Debian's skopeo 1.9 cannot read a gzipped archive, so the script gunzips it.
# Prints on its last line: "build_s=<seconds spent in nix build> total_s=<seconds>".
set -euo pipefail
flake=$1 registry=$2 repository=$3 tag=$4
shift 4
now() { date +%s.%N; }
t0=$(now) build=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
for spec in "$@"; do
  attr=${spec%%:*} kind=${spec#*:}
  b0=$(now)
  out=$(nix build --no-link --json "$flake#packages.x86_64-linux.$attr" | grep -o '"out":"[^"]*"' | cut -d'"' -f4)
  b1=$(now)
  build=$(echo "$build + $b1 - $b0" | bc)
  dest="docker://$registry/$repository/$attr:$tag"
  case $kind in
    oci) src="oci:$out" ;;
    docker-archive|docker-archive-zst) src="docker-archive:$out" ;;
    docker-archive-gz) gzip -dc "$out" > "$tmp/image.tar"; src="docker-archive:$tmp/image.tar" ;;
    stream) "$out" > "$tmp/image.tar"; src="docker-archive:$tmp/image.tar" ;;
    nix2container)
      copy_to=$(nix build --no-link --json "$flake#packages.x86_64-linux.$attr.copyTo" | grep -o '"out":"[^"]*"' | cut -d'"' -f4)
      "$copy_to/bin/copy-to" --quiet --dest-tls-verify=false "$dest" >&2
      continue ;;
  esac
  skopeo copy --quiet --dest-tls-verify=false "$src" "$dest" >&2
  rm -f "$tmp/image.tar"
done
echo "build_s=$build total_s=$(echo "$(now) - $t0" | bc)"
