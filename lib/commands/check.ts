import { REGISTRY_LOGIN } from "./layer";

/**
 * Runs one smoke check inside a pushed image, on this machine (the dev stack's runner):
 * pulls the image by digest into an OCI layout, unpacks it with umoci and runs the check
 * under bubblewrap with the image as its root, no network and a clean environment.
 * Inputs: LAYERSTACK_IMAGE_REF (repo@sha256:...), LAYERSTACK_REGISTRY, LAYERSTACK_TLS_VERIFY,
 * LAYERSTACK_CHECK_NAME, LAYERSTACK_CHECK_SCRIPT (sh, run as `/bin/sh -c`), optional
 * registry credentials. On failure it prints the check's last 40 lines of output.
 */
export const LOCAL_CHECK_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${REGISTRY_LOGIN}
skopeo copy --quiet --src-tls-verify="$LAYERSTACK_TLS_VERIFY" "docker://$LAYERSTACK_IMAGE_REF" "oci:$tmp/oci:check" >&2
umoci raw unpack --image "$tmp/oci:check" "$tmp/rootfs" > "$tmp/unpack.log" 2>&1 || { cat "$tmp/unpack.log" >&2; exit 1; }
status=0
bwrap --bind "$tmp/rootfs" / --proc /proc --dev /dev --tmpfs /tmp --unshare-all --die-with-parent \\
  --clearenv --setenv PATH /usr/local/bin:/usr/bin:/bin:/usr/local/cuda/bin --setenv HOME /root \\
  /bin/sh -c "$LAYERSTACK_CHECK_SCRIPT" > "$tmp/output" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  echo "check $LAYERSTACK_CHECK_NAME failed in $LAYERSTACK_IMAGE_REF (exit $status); its last lines:" >&2
  tail -n 40 "$tmp/output" >&2
  exit "$status"
fi
tail -n 40 "$tmp/output"`;
