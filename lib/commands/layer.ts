/**
 * Every shell command the stack runs, in one place.
 *
 * The scripts are constants: the values they work on (derivation, image reference,
 * credentials) arrive as environment variables, so nothing is spliced into shell text and
 * no quoting can go wrong. Secrets arrive the same way, in `environment` marked secret,
 * and reach programs only through stdin or files inside a private temporary directory:
 * never argv, never the command text (which Pulumi prints in failure messages).
 * Each script ends in `exec` where it can, so a timeout that kills the command's process
 * group leaves no `nix` or `skopeo` running.
 */

import * as pulumi from "@pulumi/pulumi";
import type { NixBuilders } from "../builders";
import { DEFAULT_TIMEOUTS } from "../defaults";
import type { CopyTo } from "../nix";
import type { RegistryAuth } from "../registry";
import { scriptEnv } from "./bounded";
import { buildersEnv, withBuilders } from "./builders";
import { netrcEnv, withNetrc, withNixConfig } from "./cache";
import { ScriptEnv, layerEnv, nixAccessTokensEnv, nixConfigEnv, registryEnv } from "./env";
import { COPY_TO_PUSH, IMAGE_KIND, IMAGE_SOURCE } from "./image";

export { shellQuote } from "../shell";

/**
 * Builds one layer. Inputs: LAYERSTACK_DRV_PATH. Prints the output path.
 * The derivation was instantiated by the program's single `nix eval`; building it by
 * drvPath means no second evaluation. Concurrent builds of layers that share work are
 * coordinated by Nix's own store locks.
 * `--no-build-output` (-Q): the builders' output goes to Nix's log only (`nix log <drv>`), and a
 * failed build prints Nix's own "last 10 log lines" (the `log-lines` setting) and where the
 * full log is, so a failure message holds the last lines of output, not hours of compiler
 * output; the progress lines (`building '...'`) still show.
 * `--no-gc-warning` (a common flag of Nix's legacy commands, NixOS/nix src/libmain/shared.cc
 * LegacyArgs): the build needs no GC root of its own, since the push realises the drvPath
 * again under a root for as long as it reads the image (PUSH_SCRIPT). Without it, every
 * realisation prints "you did not specify '--add-root'".
 * `--option build-poll-interval 1`: every layer's build starts at once, and a build that needs a
 * derivation another layer's build holds the lock of waits for it, retrying every
 * build-poll-interval seconds, 5 by default (NixOS/nix src/libstore/build/derivation-goal.cc:
 * "waiting for lock on", Worker::waitForAWhile; globals.hh pollInterval). Polling every second
 * takes up to 4 s less per shared derivation, and costs nothing while nothing waits. The daemon
 * takes the setting from any client, trusted or not (src/libstore/daemon.cc, since 2.18 at least).
 *
 * Substitution first, one layer's at a time. Every layer's build starts at once, and each needs
 * most of its parents' closure (CUDA, Python): on an empty store (a hosted runner, a new GPU
 * host) every build would fetch the same paths from the binary cache at the same time. Nix takes
 * no lock before it downloads a path: PathSubstitutionGoal::tryToRun copies the NAR from the
 * substituter in a thread, and LocalStore::addToStore takes the path's lock only to add it,
 * reading and discarding the whole NAR when another process added it meanwhile ("In case we are
 * not interested in reading the NAR: discard it"; NixOS/nix 2.26 src/libstore/build/
 * substitution-goal.cc, src/libstore/local-store.cc). The bench saw the base layer fetched five
 * times by one up (row 11). So the build asks Nix what it would fetch (`nix-store --realise
 * --dry-run`: queryMissing, then printMissing's "will be fetched:" list, src/nix-store/
 * nix-store.cc opRealise) and fetches that under a lock that the user's layer builds share
 * (flock(1), util-linux), in one Nix process that substitutes in parallel itself; a build that
 * waited finds those paths valid and fetches only the rest. Without flock (not Linux) each
 * build fetches on its own, as before.
 */
export const BUILD_SCRIPT = `set -eu
if command -v flock >/dev/null 2>&1; then
  fetch=$(nix-store --realise --dry-run "$LAYERSTACK_DRV_PATH" 2>&1 >/dev/null | awk '/ will be fetched/ { f = 1; next } /^[^ ]/ { f = 0 } f && substr($1, 1, 1) == "/" { print $1 }')
  if [ -n "$fetch" ]; then
    printf '%s\\n' "$fetch" | flock "\${TMPDIR:-/tmp}/layerstack-substitute-$(id -u).lock" xargs nix-store --realise --no-gc-warning >/dev/null
  fi
fi
exec nix-store --realise --no-gc-warning --no-build-output --option build-poll-interval 1 "$LAYERSTACK_DRV_PATH"`;

/**
 * Logs in to the registry when a password is set, inside the command: the password goes to
 * skopeo on stdin and ends up only in a private auth file under $tmp, which the caller's
 * trap removes. Expects $tmp, LAYERSTACK_REGISTRY and LAYERSTACK_TLS_VERIFY.
 */
export const REGISTRY_LOGIN = `if [ -n "\${LAYERSTACK_REGISTRY_PASSWORD:-}" ]; then
  export REGISTRY_AUTH_FILE="$tmp/auth.json"
  printf '%s' "$LAYERSTACK_REGISTRY_PASSWORD" | skopeo login --authfile "$REGISTRY_AUTH_FILE" \\
    --tls-verify="$LAYERSTACK_TLS_VERIFY" --username "$LAYERSTACK_REGISTRY_USERNAME" --password-stdin \\
    "$LAYERSTACK_REGISTRY" >/dev/null
fi
unset LAYERSTACK_REGISTRY_PASSWORD`;

/**
 * After the copy: the parent image's layers must be the first layers of this image. A layer's
 * `parent` in config says what it builds on, but the image is what the flake built; a parent
 * set in config only (the flake unchanged) would export a chain the image does not hold.
 * Compares the layer digests as the registry holds them (skopeo inspect's `.Layers`, the
 * parent's by its immutable tag, which its push wrote before this one started), so it works
 * for every image kind. The parent's tag is known before anything runs, so a republished
 * parent does not make the child's push look changed in a preview (its digest would).
 * A mismatch fails the push naming both layers; nothing is recorded, the next up checks again.
 */
const PARENT_PREFIX_CHECK = `if [ -n "\${LAYERSTACK_PARENT_IMAGE:-}" ]; then
  layers='{{range .Layers}}{{.}} {{end}}'
  parent=$(skopeo inspect --tls-verify="$LAYERSTACK_TLS_VERIFY" --format "$layers" "docker://$LAYERSTACK_PARENT_IMAGE")
  blobs=$(skopeo inspect --tls-verify="$LAYERSTACK_TLS_VERIFY" --format "$layers" "docker://$LAYERSTACK_REPOSITORY@$digest")
  case "$blobs" in
    "$parent"*) ;;
    *)
      echo "layer $LAYERSTACK_LAYER: its image does not build on its parent, layer $LAYERSTACK_PARENT_LAYER: the parent's layers are not the first layers of $LAYERSTACK_REPOSITORY@$digest." >&2
      echo "  parent $LAYERSTACK_PARENT_LAYER ($LAYERSTACK_PARENT_IMAGE): $parent" >&2
      echo "  layer $LAYERSTACK_LAYER: $blobs" >&2
      echo "Set the parent in layerstack:layers to the layer whose image the flake attribute builds on (fromImage)." >&2
      exit 1 ;;
  esac
fi`;

/**
 * Runs a copy to the registry (its arguments), once more after 2 s and again after 4 s when the
 * registry answered with a server error (5xx): a gateway's 502 or a 503 under load. skopeo's own
 * --retry-times does not cover those: it retries network errors and registry error codes only
 * (containers/common pkg/retry/retry.go isRetryable: a "received unexpected HTTP status" error is
 * none of them). The copy is idempotent (blobs the registry has are skipped), so trying again
 * costs only what did not arrive. Any other failure is final at once, with skopeo's own message.
 * Expects $tmp and LAYERSTACK_LAYER.
 */
export const AGAIN_ON_5XX = `again_on_5xx() {
  n=0
  while :; do
    s=0
    "$@" 2>"$tmp/copy.err" || s=$?
    cat "$tmp/copy.err" >&2
    if [ "$s" -eq 0 ]; then return 0; fi
    n=$((n + 1))
    if [ "$n" -gt 2 ] || ! grep -q 'unexpected HTTP status: 5[0-9][0-9]' "$tmp/copy.err"; then return "$s"; fi
    echo "layer $LAYERSTACK_LAYER: the registry answered with a server error; pushing again in $((2 * n))s ($n of 2)" >&2
    sleep $((2 * n))
  done
}`;

/**
 * Before the copy: a layer blob over the registry's limit (LAYERSTACK_MAX_BLOB_BYTES, from
 * layerstack:registryLimits maxBlobBytes) is refused before anything is uploaded, with the
 * preview's message (lib/registryLimits.ts blobLimitMessage). The sizes are the source's, from
 * its manifest (`skopeo inspect --raw`: skopeo 1.9's --format has no LayersData): an OCI
 * layout's blobs as stored, and a docker-archive's layer tars uncompressed (its manifest gives
 * their size as in the archive, containers/image docker/internal/tarfile/src.go), which skopeo
 * then compresses, so such a blob may be refused that would have fit compressed: the message
 * says so. A nix2container image's blobs are made by its copyTo while it uploads, so they are
 * not checked here. Expects $src (IMAGE_SOURCE) and LAYERSTACK_LAYER.
 */
export const BLOB_LIMIT_CHECK = `if [ -n "\${LAYERSTACK_MAX_BLOB_BYTES:-}" ] && [ -n "$src" ]; then
  blob_sizes=$(skopeo inspect --raw "$src" | tr -d ' \\n\\t' | sed -n 's/.*"layers":\\[\\(.*\\)\\].*/\\1/p' | grep -o '"size":[0-9]*' | cut -d: -f2)
  for blob_size in $blob_sizes; do
    if [ "$blob_size" -gt "$LAYERSTACK_MAX_BLOB_BYTES" ]; then
      how="as the image stores it"
      case $kind in docker-archive*|stream) how="uncompressed, as the archive holds it: skopeo compresses it on upload, so it may fit compressed" ;; esac
      echo "layer $LAYERSTACK_LAYER: its blob of $blob_size B ($how) is over the registry's limit of $LAYERSTACK_MAX_BLOB_BYTES B (layerstack:registryLimits maxBlobBytes); the registry would refuse it, so nothing was uploaded" >&2
      exit 1
    fi
  done
fi`;

/**
 * Pushes one built layer. Inputs:
 *   LAYERSTACK_DRV_PATH        realised again first (a no-op unless garbage-collected), under
 *                              a GC root in the private $tmp (an indirect root: nix-store
 *                              --add-root, NixOS/nix doc/manual nix-store.md), so a garbage
 *                              collection cannot remove the image while skopeo reads it; when
 *                              the trap removes $tmp the root dangles and the next GC drops it
 *                              (src/libstore/gc.cc: "removing stale link")
 *   LAYERSTACK_LAYER           the layer's id (for messages)
 *   LAYERSTACK_FORMAT          optional override of the detected kind: oci | docker-archive | stream
 *   LAYERSTACK_COPY_TO_DRV, LAYERSTACK_COPY_TO_MAIN  optional: the attribute's copyTo (nix2container)
 *   LAYERSTACK_REGISTRY        host[:port]; LAYERSTACK_TLS_VERIFY true|false
 *   LAYERSTACK_REPOSITORY      <registry>/<path>; LAYERSTACK_TAG the immutable tag
 *   LAYERSTACK_REGISTRY_USERNAME, LAYERSTACK_REGISTRY_PASSWORD (secret)  optional
 *   LAYERSTACK_MAX_BLOB_BYTES  optional: the registry's largest blob (BLOB_LIMIT_CHECK)
 *   LAYERSTACK_PARENT_LAYER, LAYERSTACK_PARENT_IMAGE  the parent's id and its pushed image,
 *                              `<registry>/<path>:<tag>` (PARENT_PREFIX_CHECK); unset for a root
 * The image's kind is detected from the output (lib/commands/image.ts) and an unknown kind
 * fails before the login and the push.
 * Prints the pushed manifest digest on the first line, then the manifest as pushed.
 */
export const PUSH_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
nix-store --realise --no-gc-warning --add-root "$tmp/image" "$LAYERSTACK_DRV_PATH" >/dev/null
out=$(readlink "$tmp/image")
${IMAGE_KIND}
${REGISTRY_LOGIN}
${IMAGE_SOURCE}
${BLOB_LIMIT_CHECK}
${AGAIN_ON_5XX}
if [ -n "$copy_to" ]; then
  ${COPY_TO_PUSH}
else
again_on_5xx skopeo copy --quiet --retry-times 2 --dest-tls-verify="$LAYERSTACK_TLS_VERIFY" --digestfile "$tmp/digest" \\
  "$src" "docker://$LAYERSTACK_REPOSITORY:$LAYERSTACK_TAG" >&2
fi
exec 3>&-
digest=$(cat "$tmp/digest")
manifest=$(skopeo inspect --raw --tls-verify="$LAYERSTACK_TLS_VERIFY" "docker://$LAYERSTACK_REPOSITORY@$digest")
${PARENT_PREFIX_CHECK}
# No exec here: the EXIT trap must run, to remove $tmp (the auth file); printf is the end.
printf '%s\n%s\n' "$digest" "$manifest"`;

/**
 * The build's environment: BUILD_SCRIPT with the stack's Nix settings, under its time limit,
 * and with the stack's remote builders when it has some (WITH_BUILDERS, builders.ts: Nix then
 * dispatches the derivations to them).
 */
export function buildEnv(b: {
    readonly drvPath: string; readonly timeoutSeconds: number; readonly nixConfig?: pulumi.Input<string>; readonly nixAccessTokens?: pulumi.Input<string>;
    readonly builders?: NixBuilders; readonly netrc?: pulumi.Input<string>;
}): ScriptEnv {
    const nix = withNixConfig(BUILD_SCRIPT);
    const script = b.netrc !== undefined ? withNetrc(nix) : nix;
    return {
        ...scriptEnv(b.builders ? withBuilders(script) : script, b.timeoutSeconds),
        ...netrcEnv(b.netrc),
        ...layerEnv({ drvPath: b.drvPath }), ...nixConfigEnv(b.nixConfig), ...nixAccessTokensEnv(b.nixAccessTokens), ...(b.builders ? buildersEnv(b.builders) : {}),
    };
}

/** What PUSH_SCRIPT is told (see its inputs above). */
export interface PushInputs {
    readonly layer: string;
    readonly drvPath: string;
    /** @default detected from the output */
    readonly format?: string;
    /** @default none */
    readonly copyTo?: CopyTo;
    readonly registry: string;
    /** `<registry>/<path>`, without tag. */
    readonly repositoryUrl: string;
    readonly tag: string;
    /** A private binary cache's netrc (secret), for the realise before the copy (WITH_NETRC). @default none */
    readonly netrc?: pulumi.Input<string>;
    /** The parent layer's id and pushed image `<registry>/<path>:<tag>`. @default none: a root layer */
    readonly parent?: { readonly layer: string; readonly image: string };
    /** @default anonymous */
    readonly registryAuth?: RegistryAuth;
    /** @default none */
    readonly nixConfig?: pulumi.Input<string>;
    /** The registry's largest blob, in bytes (BLOB_LIMIT_CHECK). @default none */
    readonly maxBlobBytes?: number;
}

/** The push's environment: PUSH_SCRIPT with the stack's Nix settings, under DEFAULT_TIMEOUTS.push. */
export function pushEnv(p: PushInputs): ScriptEnv {
    return {
        ...scriptEnv(p.netrc !== undefined ? withNetrc(withNixConfig(PUSH_SCRIPT)) : withNixConfig(PUSH_SCRIPT), DEFAULT_TIMEOUTS.push),
        ...netrcEnv(p.netrc),
        ...layerEnv({ id: p.layer, drvPath: p.drvPath }),
        ...(p.format ? { LAYERSTACK_FORMAT: p.format } : {}),
        ...(p.copyTo ? { LAYERSTACK_COPY_TO_DRV: p.copyTo.drvPath } : {}),
        ...(p.copyTo?.mainProgram ? { LAYERSTACK_COPY_TO_MAIN: p.copyTo.mainProgram } : {}),
        ...registryEnv(p.registry, p.registryAuth),
        LAYERSTACK_REPOSITORY: p.repositoryUrl,
        LAYERSTACK_TAG: p.tag,
        ...(p.parent ? { LAYERSTACK_PARENT_LAYER: p.parent.layer, LAYERSTACK_PARENT_IMAGE: p.parent.image } : {}),
        ...nixConfigEnv(p.nixConfig),
        ...(p.maxBlobBytes !== undefined ? { LAYERSTACK_MAX_BLOB_BYTES: String(p.maxBlobBytes) } : {}),
    };
}
