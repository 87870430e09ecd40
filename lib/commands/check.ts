import type * as pulumi from "@pulumi/pulumi";
import type { CheckSpec } from "../checks";
import { DEFAULT_TIMEOUTS } from "../defaults";
import type { RegistryAuth } from "../registry";
import { scriptEnv } from "./bounded";
import { ScriptEnv, layerEnv, registryEnv } from "./env";
import { REGISTRY_LOGIN } from "./layer";
import { shellQuote } from "../shell";

/** A check's PATH when the image's config sets none (the image's own PATH otherwise). */
export const CHECK_PATH = "/usr/local/bin:/usr/bin:/bin:/usr/local/cuda/bin";

/**
 * Where a GPU host's driver libraries are, appended to a check's LD_LIBRARY_PATH after the
 * image's own entries. The NVIDIA Container Toolkit injects the host's libcuda into the
 * container's library directory (/usr/lib/x86_64-linux-gnu or /usr/lib64), but a Nix-built
 * image never searches those: its binaries look in their RUNPATH and in /run/opengl-driver/lib
 * (nixpkgs' driver link). So a Nix image imports torch and then cannot see the GPU unless
 * LD_LIBRARY_PATH also covers the injected directories.
 */
export const DRIVER_LIB_DIRS: readonly string[] = ["/run/opengl-driver/lib", "/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/usr/local/nvidia/lib64"];

/** What a check adds for the GPU besides the driver's library directories, after the image's own Env. */
export const GPU_CHECK_ENV: readonly string[] = ["NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility"];

/**
 * The environment a check runs in, as a jq program over the image's config (an OCI image
 * config, `skopeo inspect --config`): the config's own `Env`, in its order, then only what the
 * GPU needs: DRIVER_LIB_DIRS after the image's own LD_LIBRARY_PATH, and GPU_CHECK_ENV. PATH is
 * CHECK_PATH only where the image sets none; HOME is `$home` where the image sets none and
 * `$home` is not empty. Prints a JSON list of `NAME=value`. The local and the runner checks
 * both run it (LOCAL_CHECK_SCRIPT, IMAGE_CONFIG_ENV_SCRIPT), so they see the same environment.
 * Arguments: `--arg home`.
 */
export const CHECK_ENV_JQ = [
    `def named($n): any(.[]; startswith($n + "="));`,
    `((.config // {}).Env // []) | map(select(index("=") != null)) as $env`,
    `| (if ($env | named("PATH")) then [] else [${JSON.stringify(`PATH=${CHECK_PATH}`)}] end)`,
    `+ (if ($env | named("HOME")) or $home == "" then [] else ["HOME=" + $home] end)`,
    `+ [$env[] | if startswith("LD_LIBRARY_PATH=") then . + (if . == "LD_LIBRARY_PATH=" then "" else ":" end) + ${JSON.stringify(DRIVER_LIB_DIRS.join(":"))} else . end]`,
    `+ (if ($env | named("LD_LIBRARY_PATH")) then [] else [${JSON.stringify(`LD_LIBRARY_PATH=${DRIVER_LIB_DIRS.join(":")}`)}] end)`,
    `+ ${JSON.stringify(GPU_CHECK_ENV)}`,
].join(" "); // one line: a jq program, not a script (the shellcheck test lints every multi-line export)

/**
 * sh functions to look inside a pushed image on this machine, for the local checks and
 * `npm run layer:shell` alike (one bubblewrap line for both):
 *   layerstack_unpack REF DIR       pulls REF (by digest) into an OCI layout in DIR, unpacks
 *                                   its root file system into DIR/rootfs (LAYERSTACK_TLS_VERIFY)
 *                                   and writes DIR/sandbox-args: the image's own environment as
 *                                   bubblewrap options (CHECK_ENV_JQ, HOME=/root where the image
 *                                   sets none; its WorkingDir; its User, a name looked up in
 *                                   the image's /etc/passwd and /etc/group)
 *   layerstack_sandbox DIR CMD..    runs CMD under bubblewrap with DIR/rootfs as its root, no
 *                                   network and only the image's environment; CMD's program is
 *                                   found on the image's own PATH
 *   layerstack_has_sh DIR           whether the image has an `sh` on its own PATH (bubblewrap's
 *                                   own search: it runs `sh -c :` there)
 *   layerstack_image_path DIR       the PATH the check runs with (for messages)
 * The image's config is read from the pulled layout itself (skopeo inspect --config oci:).
 */
export const IMAGE_SANDBOX_FUNCTIONS = `layerstack_unpack() {
  skopeo copy --quiet --src-tls-verify="$LAYERSTACK_TLS_VERIFY" "docker://$1" "oci:$2/oci:check" >&2
  # As a user other than root (a GPU host's CI user), umoci cannot chown: --rootless unpacks as
  # that user, keeping the image's modes (read-only store paths), so the trap makes it writable first.
  lss_rootless=; [ "$(id -u)" = 0 ] || lss_rootless=--rootless
  umoci raw unpack $lss_rootless --image "$2/oci:check" "$2/rootfs" > "$2/unpack.log" 2>&1 || { cat "$2/unpack.log" >&2; return 1; }
  skopeo inspect --config "oci:$2/oci:check" > "$2/config.json"
  jq -c --arg home /root ${shellQuote(CHECK_ENV_JQ)} "$2/config.json" > "$2/env.json"
  # One line of sh words (jq -j: a newline only inside a quoted value), for layerstack_sandbox's eval.
  jq -j '.[] | index("=") as $i | "--setenv \\(.[:$i] | @sh) \\(.[$i + 1:] | @sh) "' "$2/env.json" > "$2/sandbox-args"
  jq -j '(.config // {}).WorkingDir // "" | select(. != "") | "--dir \\(@sh) --chdir \\(@sh) "' "$2/config.json" >> "$2/sandbox-args"
  lsu_user=$(jq -r '(.config // {}).User // ""' "$2/config.json")
  case $lsu_user in
  ''|root|0|0:0|root:root) ;;
  *)
    lsu_uid=\${lsu_user%%:*}; lsu_gid=; case $lsu_user in *:*) lsu_gid=\${lsu_user#*:} ;; esac
    case $lsu_uid in *[!0-9]*) lsu_name=$lsu_uid
      lsu_uid=$(awk -F: -v n="$lsu_name" '$1 == n { print $3; exit }' "$2/rootfs/etc/passwd" 2>/dev/null || true)
      [ -n "$lsu_gid" ] || lsu_gid=$(awk -F: -v n="$lsu_name" '$1 == n { print $4; exit }' "$2/rootfs/etc/passwd" 2>/dev/null || true)
      [ -n "$lsu_uid" ] || { echo "the image's User $lsu_user is not in its /etc/passwd" >&2; return 1; } ;;
    esac
    case $lsu_gid in *[!0-9]*) lsu_group=$lsu_gid
      lsu_gid=$(awk -F: -v n="$lsu_group" '$1 == n { print $3; exit }' "$2/rootfs/etc/group" 2>/dev/null || true)
      [ -n "$lsu_gid" ] || { echo "the image's User $lsu_user names a group not in its /etc/group" >&2; return 1; } ;;
    esac
    printf -- '--unshare-user --uid %s --gid %s ' "$lsu_uid" "\${lsu_gid:-$lsu_uid}" >> "$2/sandbox-args" ;;
  esac
}
layerstack_sandbox() {
  lss_dir=$1; shift
  eval "set -- $(cat "$lss_dir/sandbox-args") -- \\"\\$@\\""
  bwrap --bind "$lss_dir/rootfs" / --proc /proc --dev /dev --tmpfs /tmp --unshare-all --die-with-parent --clearenv "$@"
}
layerstack_has_sh() {
  ! layerstack_sandbox "$1" sh -c : 2>&1 | grep -q '^bwrap: execvp sh: '
}
layerstack_image_path() {
  jq -r '[.[] | select(startswith("PATH="))] | last | .[5:]' "$1/env.json"
}`;

/**
 * Runs one smoke check inside a pushed image, on this machine (the dev stack's runner):
 * pulls the image by digest into an OCI layout, unpacks it with umoci and runs the check
 * under bubblewrap with the image as its root, no network and the image's own environment
 * (IMAGE_SANDBOX_FUNCTIONS). A script check is run by the first `sh` on the image's PATH; an
 * image with none fails it, naming the layer and the PATH searched. An argv check runs as it
 * is. Inputs: LAYERSTACK_IMAGE_REF (repo@sha256:...), LAYERSTACK_REGISTRY,
 * LAYERSTACK_TLS_VERIFY, LAYERSTACK_LAYER, LAYERSTACK_CHECK_NAME, and LAYERSTACK_CHECK_SCRIPT
 * or LAYERSTACK_CHECK_ARGV (sh words, shellQuote'd), optional registry credentials. On
 * failure it prints the check's last 40 lines of output.
 */
export const LOCAL_CHECK_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
${REGISTRY_LOGIN}
${IMAGE_SANDBOX_FUNCTIONS}
layerstack_unpack "$LAYERSTACK_IMAGE_REF" "$tmp"
if [ -n "\${LAYERSTACK_CHECK_ARGV:-}" ]; then
  eval "set -- $LAYERSTACK_CHECK_ARGV"
else
  if ! layerstack_has_sh "$tmp"; then
    echo "check $LAYERSTACK_CHECK_NAME of layer \${LAYERSTACK_LAYER:-?} is a script, but the image has no sh on its PATH ($(layerstack_image_path "$tmp")); give the check an argv instead, or add a shell to the image" >&2
    exit 127
  fi
  set -- sh -c "$LAYERSTACK_CHECK_SCRIPT"
fi
status=0
layerstack_sandbox "$tmp" "$@" > "$tmp/output" 2>&1 || status=$?
if [ "$status" -ne 0 ]; then
  echo "check $LAYERSTACK_CHECK_NAME failed in $LAYERSTACK_IMAGE_REF (exit $status); its last lines:" >&2
  tail -n 40 "$tmp/output" >&2
  exit "$status"
fi
tail -n 40 "$tmp/output"`;

/**
 * `npm run layer:shell`: `sh -c IMAGE_SHELL_SCRIPT layer-shell REF [CMD...]` runs CMD (default
 * the image's own `sh`) inside the pushed image REF on this machine, as a local check would run
 * (IMAGE_SANDBOX_FUNCTIONS). Input: LAYERSTACK_TLS_VERIFY (registryEnv).
 */
export const IMAGE_SHELL_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'chmod -R u+w "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
${IMAGE_SANDBOX_FUNCTIONS}
ref=$1; shift
[ $# -gt 0 ] || set -- sh
layerstack_unpack "$ref" "$tmp"
layerstack_sandbox "$tmp" "$@"`;

/**
 * The environment of a check container on the GPU runner (RunnerChecks): reads the pushed
 * image's config from the registry and prints CHECK_ENV_JQ's list (JSON), the image's own Env
 * with the GPU's additions. Docker itself applies the image's WorkingDir and User, and finds
 * the check's program (`sh`, or an argv's first word) on the PATH given here. Inputs:
 * LAYERSTACK_IMAGE_REF, LAYERSTACK_REGISTRY, LAYERSTACK_TLS_VERIFY, optional registry
 * credentials. Prints only the image's public config's Env.
 */
export const IMAGE_CONFIG_ENV_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${REGISTRY_LOGIN}
skopeo inspect --config --tls-verify="$LAYERSTACK_TLS_VERIFY" "docker://$LAYERSTACK_IMAGE_REF" > "$tmp/config.json"
exec jq -c --arg home '' ${shellQuote(CHECK_ENV_JQ)} "$tmp/config.json"`;

/** The runner's image config read's environment (IMAGE_CONFIG_ENV_SCRIPT under DEFAULT_TIMEOUTS.check). */
export function imageConfigEnvEnv(c: { readonly imageRef: pulumi.Input<string>; readonly registry: string; readonly registryAuth?: RegistryAuth }): ScriptEnv {
    return {
        ...scriptEnv(IMAGE_CONFIG_ENV_SCRIPT, DEFAULT_TIMEOUTS.check),
        LAYERSTACK_IMAGE_REF: c.imageRef,
        ...registryEnv(c.registry, c.registryAuth),
    };
}

/**
 * The environment of a check container on the GPU runner without the image's config (a check
 * runner given no registry to read it from): CHECK_PATH and only the GPU's additions, as
 * CHECK_ENV_JQ gives for an image whose config sets no Env.
 */
export const RUNNER_CHECK_ENV: readonly string[] = [
    `PATH=${CHECK_PATH}`,
    `LD_LIBRARY_PATH=${DRIVER_LIB_DIRS.join(":")}`,
    ...GPU_CHECK_ENV,
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
export function localCheckEnv(c: { readonly imageRef: pulumi.Input<string>; readonly registry: string; readonly registryAuth?: RegistryAuth; readonly check: CheckSpec; readonly layer?: string }): ScriptEnv {
    return {
        ...scriptEnv(LOCAL_CHECK_SCRIPT, DEFAULT_TIMEOUTS.check),
        LAYERSTACK_IMAGE_REF: c.imageRef,
        ...registryEnv(c.registry, c.registryAuth),
        ...layerEnv({ id: c.layer }),
        LAYERSTACK_CHECK_NAME: c.check.name,
        ...(c.check.argv !== undefined
            ? { LAYERSTACK_CHECK_ARGV: c.check.argv.map(shellQuote).join(" ") }
            : { LAYERSTACK_CHECK_SCRIPT: c.check.script }),
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
