/**
 * What a layer's realised output is, and how skopeo reads it (issue 9: the flakes people
 * really write). The kind is judged by content (magic bytes and layout), never by name:
 *
 *   oci                  an OCI image layout directory (oci-layout + index.json)
 *   docker-archive       a `docker save` tar (dockerTools.buildImage/buildLayeredImage with
 *                        `compressor = "none"`)
 *   docker-archive+gzip  the same, gzipped (1f 8b): buildImage and buildLayeredImage by default
 *   docker-archive+zstd  the same, zstd-compressed (28 b5 2f fd): `compressor = "zstd"`
 *   stream               an executable script that writes a docker-archive to stdout
 *                        (dockerTools.streamLayeredImage)
 *   nix2container        nix2container's image JSON; published by the attribute's own `copyTo`
 *
 * Peak extra disk per kind (the README's table): none for oci and docker-archive (skopeo
 * reads them in place: containers/image docker/internal/tarfile/reader.go, NewReaderFromFile
 * returns the file itself when it is seekable and uncompressed) and for nix2container (its
 * skopeo builds layer tars on the fly from store paths, nlewo/nix2container README). One
 * uncompressed copy of the whole archive for gzip, zstd and stream: skopeo needs random
 * access, and any skopeo given a compressed file or a pipe copies it, decompressed, into a
 * temporary file itself (reader.go NewReaderFromStream, tmpdir.CreateBigFileTemp: under
 * /var/tmp, or `skopeo --tmpdir`, never $TMPDIR: internal/tmpdir/tmpdir.go), so a newer
 * skopeo would not save that copy. Debian bookworm's skopeo 1.9.3 cannot even read a gzipped
 * archive (`loading tar component manifest.json: unexpected EOF`): it is built with pgzip
 * 1.2.5 (its Built-Using), whose Reader.WriteTo drops data after a Read (klauspost/pgzip#50;
 * containers/podman#16015 took that fix "to fix reads of compressed data by docker-archive",
 * podman#15944); upstream skopeo pins the fixed pgzip from v1.10.0 on (containers/skopeo go.mod). So layerstack decompresses (or runs the stream) once itself,
 * into a file it unlinks at once and hands to skopeo as /dev/fd/3: the kernel frees the copy
 * when the last process holding it exits, on success, failure, timeout or SIGKILL alike. It
 * lies under $TMPDIR (mktemp -d), which the user can point at a large disk.
 * A tar of an OCI layout (oci-archive) is refused with a hint: skopeo would unpack all of it
 * (oci/archive), while the layout directory itself is read in place.
 */

/**
 * sh functions (POSIX, no bashisms: the command provider runs /bin/sh). Defines
 * `layerstack_image_kind PATH`, which prints one kind of the list above, or
 * `unknown: <what was found>` for anything else. Reads at most a few KiB of a file
 * (listing a plain tar seeks from header to header; a compressed file is decompressed only
 * as far as its first tar header).
 */
export const IMAGE_KIND_FUNCTIONS = `layerstack_is_tar() {
  [ "$("$@" 2>/dev/null | head -c 262 | tail -c 5)" = ustar ]
}
layerstack_first_entries() {
  awk 'NR <= 5 { printf "%s%s", (NR > 1 ? ", " : ""), $0 } END { if (NR > 5) printf ", ..." }'
}
layerstack_image_kind() {
  if [ -d "$1" ]; then
    if [ -f "$1/oci-layout" ] && [ -f "$1/index.json" ]; then echo oci; return 0; fi
    if [ -z "$(ls -A "$1")" ]; then echo "unknown: an empty directory"; return 0; fi
    # shellcheck disable=SC2012 # only names for a message, cut to the first few
    echo "unknown: a directory without oci-layout and index.json (entries: $(ls -A "$1" | layerstack_first_entries))"
    return 0
  fi
  if [ ! -e "$1" ]; then echo "unknown: nothing (the path does not exist)"; return 0; fi
  if [ ! -f "$1" ]; then echo "unknown: a special file"; return 0; fi
  lik_size=$(stat -L -c %s "$1")
  if [ "$lik_size" -eq 0 ]; then echo "unknown: an empty file"; return 0; fi
  lik_head=$(od -An -v -tx1 -N16 "$1" | tr -s ' \\n' '  ' | sed 's/^ //; s/ $//')
  case $lik_head in
    "1f 8b"*)
      if layerstack_is_tar gzip -dc "$1"; then echo docker-archive+gzip; else echo "unknown: gzip-compressed data that is not a tar archive"; fi
      return 0 ;;
    "28 b5 2f fd"*)
      if ! command -v zstd >/dev/null 2>&1; then echo "unknown: zstd-compressed data, and no zstd on PATH to read it"; return 0; fi
      if layerstack_is_tar zstd -dcq "$1"; then echo docker-archive+zstd; else echo "unknown: zstd-compressed data that is not a tar archive"; fi
      return 0 ;;
    "23 21"*)
      if [ -x "$1" ]; then echo stream; else echo "unknown: a script that is not executable"; fi
      return 0 ;;
  esac
  if layerstack_is_tar cat "$1"; then
    lik_names=$(tar -tf "$1" 2>/dev/null | sed 's#^\\./##' || true)
    if printf '%s\\n' "$lik_names" | grep -qx 'manifest.json'; then echo docker-archive; return 0; fi
    if printf '%s\\n' "$lik_names" | grep -qx 'oci-layout'; then echo "unknown: a tar of an OCI layout (an oci-archive, which skopeo would unpack in full; make the output the layout directory itself)"; return 0; fi
    echo "unknown: a tar archive with neither manifest.json nor oci-layout (entries: $(printf '%s\\n' "$lik_names" | layerstack_first_entries))"
    return 0
  fi
  if head -c 65536 "$1" | tr -d ' \\t\\r\\n' | grep -q '^{.*"image-config":'; then echo nix2container; return 0; fi
  echo "unknown: a file of $lik_size bytes that starts with $lik_head"
}`;

/** `sh -c DETECT_IMAGE_KIND_SCRIPT _ PATH` prints PATH's kind (tests and tools). */
export const DETECT_IMAGE_KIND_SCRIPT = `set -eu
${IMAGE_KIND_FUNCTIONS}
layerstack_image_kind "$1"`;

/** What every layer whose output is of no known kind is told (the exact text is tested). */
export const UNKNOWN_KIND_HINT = 'Expected an OCI layout directory, a docker-archive (tar, gzip or zstd), an executable that streams one (dockerTools.streamLayeredImage) or a nix2container image with copyTo; "format" in layerstack:layers overrides the detection.';

/**
 * Decides the kind of the realised output $out, before anything is pushed (and before the
 * registry login). Inputs: LAYERSTACK_LAYER (the layer id, for messages),
 * LAYERSTACK_FORMAT (optional override: oci | docker-archive | stream), LAYERSTACK_COPY_TO_DRV
 * (the drvPath of the attribute's `copyTo`, from the program's single `nix eval`; when set,
 * the image is published by that program). Sets $kind; an output of no known kind fails here,
 * naming the layer, the store path and what was found.
 */
export const IMAGE_KIND = `${IMAGE_KIND_FUNCTIONS}
if [ -n "\${LAYERSTACK_FORMAT:-}" ]; then
  case $LAYERSTACK_FORMAT in
    oci|stream) kind=$LAYERSTACK_FORMAT ;;
    docker-archive) kind=$(layerstack_image_kind "$out"); case $kind in docker-archive*) ;; *) kind=docker-archive ;; esac ;;
    *) echo "layer $LAYERSTACK_LAYER: unknown format $LAYERSTACK_FORMAT (oci, docker-archive or stream)" >&2; exit 2 ;;
  esac
elif [ -n "\${LAYERSTACK_COPY_TO_DRV:-}" ]; then
  kind=copy-to
else
  kind=$(layerstack_image_kind "$out")
fi
case $kind in
  nix2container)
    echo "layer $LAYERSTACK_LAYER: $out is a nix2container image (JSON), but the flake attribute has no copyTo to publish it with" >&2
    exit 2 ;;
  unknown:*)
    echo "layer $LAYERSTACK_LAYER: $out is no image layerstack can publish: it is \${kind#unknown: }. ${UNKNOWN_KIND_HINT.replace(/"/g, '\\"')}" >&2
    exit 2 ;;
esac`;

/**
 * Gets a source skopeo can read for $kind (set by IMAGE_KIND), with the least disk: sets
 * $src (a skopeo source) or, for a nix2container image, $copy_to (the attribute's own
 * program, realised here: LAYERSTACK_COPY_TO_DRV, optional LAYERSTACK_COPY_TO_MAIN, its
 * meta.mainProgram). A compressed archive or a stream becomes one uncompressed file, already
 * unlinked, open on fd 3 (see the top of this file); the caller closes fd 3 after the copy.
 * Expects $out and $tmp (a private directory its caller removes).
 */
export const IMAGE_SOURCE = `src='' copy_to=''
case $kind in
  oci) src="oci:$out" ;;
  docker-archive) src="docker-archive:$out" ;;
  docker-archive+gzip|docker-archive+zstd|stream)
    exec 3>"$tmp/image.tar"
    rm "$tmp/image.tar"
    case $kind in
      *gzip) gzip -dc "$out" >&3 || { echo "layer $LAYERSTACK_LAYER: decompressing $out (gzip) into $tmp failed" >&2; exit 1; } ;;
      *zstd) zstd -dcq "$out" >&3 || { echo "layer $LAYERSTACK_LAYER: decompressing $out (zstd) into $tmp failed" >&2; exit 1; } ;;
      stream) "$out" >&3 || { echo "layer $LAYERSTACK_LAYER: the stream script $out failed" >&2; exit 1; } ;;
    esac
    src="docker-archive:/dev/fd/3" ;;
  copy-to)
    copy_to_out=$(nix-store --realise "$LAYERSTACK_COPY_TO_DRV")
    # shellcheck disable=SC2012 # a store path's bin/: plain names, counted
    if [ -n "\${LAYERSTACK_COPY_TO_MAIN:-}" ]; then
      copy_to="$copy_to_out/bin/$LAYERSTACK_COPY_TO_MAIN"
    elif [ "$(ls "$copy_to_out/bin" 2>/dev/null | wc -l)" -eq 1 ]; then
      copy_to="$copy_to_out/bin/$(ls "$copy_to_out/bin")"
    fi
    if [ -z "$copy_to" ] || [ ! -x "$copy_to" ]; then
      echo "layer $LAYERSTACK_LAYER: the attribute's copyTo ($copy_to_out) has no single program in bin/ and no meta.mainProgram" >&2
      exit 2
    fi ;;
esac`;

/**
 * Publishes through the image's own copyTo program (nix2container). nlewo/nix2container
 * default.nix: `copyTo = writeSkopeoApplication "copy-to" "skopeo --insecure-policy copy
 * nix:<image> \\"$@\\""`, so the arguments are skopeo copy's flags and the destination. Its
 * skopeo reads credentials from REGISTRY_AUTH_FILE, as every skopeo does (containers/skopeo
 * cmd/skopeo/utils.go: --authfile defaults to $REGISTRY_AUTH_FILE), which REGISTRY_LOGIN
 * exports; never a credentials flag (argv). It prints to stdout, which the push keeps for the
 * digest, hence >&2. The pushed digest is then read back from the registry. A registry's
 * server error is tried again (again_on_5xx, lib/commands/layer.ts AGAIN_ON_5XX).
 */
export const COPY_TO_PUSH = `again_on_5xx "$copy_to" --quiet --retry-times 2 --dest-tls-verify="$LAYERSTACK_TLS_VERIFY" \\
    "docker://$LAYERSTACK_REPOSITORY:$LAYERSTACK_TAG" >&2
  skopeo inspect --tls-verify="$LAYERSTACK_TLS_VERIFY" --format '{{.Digest}}' \\
    "docker://$LAYERSTACK_REPOSITORY:$LAYERSTACK_TAG" > "$tmp/digest"`;
