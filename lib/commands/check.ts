import type * as pulumi from "@pulumi/pulumi";
import type { CheckSpec } from "../checks";
import { DEFAULT_TIMEOUTS } from "../defaults";
import type { RegistryAuth } from "../registry";
import { scriptEnv } from "./bounded";
import { ScriptEnv, layerEnv, registryEnv } from "./env";
import { REGISTRY_LOGIN } from "./layer";

/** PATH inside a check, on this machine and on the GPU runner alike. */
export const CHECK_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/cuda/bin";

/**
 * sh functions to look inside a pushed image on this machine, for the local checks and
 * `npm run layer:shell` alike (one bubblewrap line for both):
 *   layerstack_unpack REF DIR       pulls REF (by digest) into an OCI layout in DIR and unpacks
 *                                   its root file system into DIR/rootfs (LAYERSTACK_TLS_VERIFY)
 *   layerstack_sandbox ROOTFS CMD.. runs CMD under bubblewrap with ROOTFS as its root, no network
 *                                   and a clean environment (PATH=CHECK_PATH, HOME=/root)
 */
export const IMAGE_SANDBOX_FUNCTIONS = `layerstack_unpack() {
  skopeo copy --quiet --src-tls-verify="$LAYERSTACK_TLS_VERIFY" "docker://$1" "oci:$2/oci:check" >&2
  # As a user other than root (a GPU host's CI user), umoci cannot chown: --rootless unpacks as
  # that user, keeping the image's modes (read-only store paths), so the trap makes it writable first.
  lss_rootless=; [ "$(id -u)" = 0 ] || lss_rootless=--rootless
  umoci raw unpack $lss_rootless --image "$2/oci:check" "$2/rootfs" > "$2/unpack.log" 2>&1 || { cat "$2/unpack.log" >&2; return 1; }
}
layerstack_sandbox() {
  lss_root=$1; shift
  bwrap --bind "$lss_root" / --proc /proc --dev /dev --tmpfs /tmp --unshare-all --die-with-parent \\
    --clearenv --setenv PATH ${CHECK_PATH} --setenv HOME /root -- "$@"
}`;

/**
 * Runs one smoke check inside a pushed image, on this machine (the dev stack's runner):
 * pulls the image by digest into an OCI layout, unpacks it with umoci and runs the check
 * under bubblewrap with the image as its root, no network and a clean environment
 * (IMAGE_SANDBOX_FUNCTIONS). Inputs: LAYERSTACK_IMAGE_REF (repo@sha256:...),
 * LAYERSTACK_REGISTRY, LAYERSTACK_TLS_VERIFY, LAYERSTACK_CHECK_NAME, LAYERSTACK_CHECK_SCRIPT
 * (sh, run as `/bin/sh -c`), optional registry credentials. On failure it prints the check's
 * last 40 lines of output.
 */
export const LOCAL_CHECK_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
${REGISTRY_LOGIN}
${IMAGE_SANDBOX_FUNCTIONS}
layerstack_unpack "$LAYERSTACK_IMAGE_REF" "$tmp"
status=0
layerstack_sandbox "$tmp/rootfs" /bin/sh -c "$LAYERSTACK_CHECK_SCRIPT" > "$tmp/output" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  echo "check $LAYERSTACK_CHECK_NAME failed in $LAYERSTACK_IMAGE_REF (exit $status); its last lines:" >&2
  tail -n 40 "$tmp/output" >&2
  exit "$status"
fi
tail -n 40 "$tmp/output"`;

/**
 * `npm run layer:shell`: `sh -c IMAGE_SHELL_SCRIPT layer-shell REF [CMD...]` runs CMD (default
 * /bin/sh) inside the pushed image REF on this machine, as a local check would run
 * (IMAGE_SANDBOX_FUNCTIONS). Input: LAYERSTACK_TLS_VERIFY (registryEnv).
 */
export const IMAGE_SHELL_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
${IMAGE_SANDBOX_FUNCTIONS}
ref=$1; shift
[ $# -gt 0 ] || set -- /bin/sh
layerstack_unpack "$ref" "$tmp"
layerstack_sandbox "$tmp/rootfs" "$@"`;


/**
 * The environment of a check container on the GPU runner (RunnerChecks). The NVIDIA
 * Container Toolkit injects the host's libcuda into the container's library directory
 * (/usr/lib/x86_64-linux-gnu or /usr/lib64), but a Nix-built image never searches those: its
 * binaries look in their RUNPATH and in /run/opengl-driver/lib (nixpkgs' driver link). So a
 * Nix image imports torch and then cannot see the GPU unless LD_LIBRARY_PATH covers the
 * injected directories: it does here, for every check.
 */
export const RUNNER_CHECK_ENV: readonly string[] = [
    `PATH=${CHECK_PATH}`,
    "HOME=/root",
    "NVIDIA_VISIBLE_DEVICES=all",
    "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
    "LD_LIBRARY_PATH=/run/opengl-driver/lib:/usr/lib/x86_64-linux-gnu:/usr/lib64:/usr/local/nvidia/lib64",
];

/**
 * The last `lines` lines (at most 8 KiB) of a check container's log as the Docker provider
 * reports it, made printable: the 8-byte frame headers of Docker's multiplexed stream (when
 * the log comes framed) and every control byte but tab and newline are dropped. The result
 * can travel in an environment variable (no NUL) and be shown in a failure message.
 */
export function checkLogTail(raw: string | undefined, lines = 40): string {
    const text = (raw ?? "")
        .replace(/[\x00-\x02]\x00\x00\x00[\s\S]{4}/g, "")
        .replace(/\r\n?/g, "\n")
        .replace(/[\x00-\x08\x0b-\x1f\x7f]/g, "");
    const tail = text.replace(/\n+$/, "").split("\n").slice(-lines).join("\n");
    return tail.length > 8192 ? tail.slice(-8192) : tail;
}

/**
 * The verdict of one check that ran in a container on the GPU runner. The Docker provider
 * records a finished container whatever its exit code, so this local command turns the code
 * into success or failure: it fails \`up\` (and so blocks the layer's descendants and moving
 * tags) unless the code is 0, printing the check's last lines (checkLogTail).
 * Inputs: LAYERSTACK_LAYER, LAYERSTACK_CHECK_NAME, LAYERSTACK_IMAGE_REF, LAYERSTACK_EXIT_CODE,
 * LAYERSTACK_CHECK_LOGS (the log's tail), LAYERSTACK_CONTAINER_URN (for the re-run hint).
 */
export const RUNNER_CHECK_VERDICT_SCRIPT = `set -eu
case "$LAYERSTACK_EXIT_CODE" in
  0) printf '%s\\n' "\${LAYERSTACK_CHECK_LOGS:-}"; exit 0 ;;
  ''|*[!0-9]*) code=1; why="did not finish (no exit code: $LAYERSTACK_EXIT_CODE)" ;;
  *) code=$LAYERSTACK_EXIT_CODE; why="failed (exit $LAYERSTACK_EXIT_CODE)" ;;
esac
{
  echo "check $LAYERSTACK_CHECK_NAME of layer $LAYERSTACK_LAYER $why on the GPU runner in $LAYERSTACK_IMAGE_REF; its last lines:"
  printf '%s\\n' "\${LAYERSTACK_CHECK_LOGS:-}"
  echo "Its descendants are not pushed and no moving tag is promoted. A change to the layer or to the check runs it again;"
  echo "to run it again unchanged: pulumi up --replace '$LAYERSTACK_CONTAINER_URN'"
} >&2
exit "$code"`;

/** One local check's environment: LOCAL_CHECK_SCRIPT under DEFAULT_TIMEOUTS.check. */
export function localCheckEnv(c: { readonly imageRef: pulumi.Input<string>; readonly registry: string; readonly registryAuth?: RegistryAuth; readonly check: CheckSpec }): ScriptEnv {
    return {
        ...scriptEnv(LOCAL_CHECK_SCRIPT, DEFAULT_TIMEOUTS.check),
        LAYERSTACK_IMAGE_REF: c.imageRef,
        ...registryEnv(c.registry, c.registryAuth),
        LAYERSTACK_CHECK_NAME: c.check.name,
        LAYERSTACK_CHECK_SCRIPT: c.check.script,
    };
}

/** One runner check's verdict environment (RUNNER_CHECK_VERDICT_SCRIPT). */
export function runnerCheckVerdictEnv(v: {
    readonly layer: string;
    readonly check: string;
    readonly imageRef: pulumi.Input<string>;
    readonly exitCode: pulumi.Input<string>;
    readonly logs: pulumi.Input<string>;
    readonly containerUrn: pulumi.Input<string>;
}): ScriptEnv {
    return {
        ...layerEnv({ id: v.layer }),
        LAYERSTACK_CHECK_NAME: v.check,
        LAYERSTACK_IMAGE_REF: v.imageRef,
        LAYERSTACK_EXIT_CODE: v.exitCode,
        LAYERSTACK_CHECK_LOGS: v.logs,
        LAYERSTACK_CONTAINER_URN: v.containerUrn,
    };
}
