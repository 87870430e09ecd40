/**
 * Moving tags: points `<repository>:<variant>-latest` at a layer's pushed digest. Values
 * arrive as environment variables; the registry password only as secret environment, and
 * from there to skopeo on stdin (REGISTRY_LOGIN), never argv or the command text.
 */
import type * as pulumi from "@pulumi/pulumi";
import { DEFAULT_TIMEOUTS } from "../defaults";
import type { RegistryAuth } from "../registry";
import { scriptEnv } from "./bounded";
import { ScriptEnv, registryEnv } from "./env";
import { REGISTRY_LOGIN } from "./layer";

/**
 * Copies `<repo>@<digest>` to `<repo>:<moving tag>` in the same registry, byte for byte
 * (--preserve-digests), so the moving tag resolves to exactly the digest that was pushed
 * and checked. Inputs:
 *   LAYERSTACK_IMAGE_REF       <registry>/<path>@sha256:...
 *   LAYERSTACK_REPOSITORY      <registry>/<path>; LAYERSTACK_MOVING_TAG e.g. cu130-latest
 *   LAYERSTACK_REGISTRY        host[:port]; LAYERSTACK_TLS_VERIFY true|false
 *   LAYERSTACK_REGISTRY_USERNAME, LAYERSTACK_REGISTRY_PASSWORD (secret)  optional
 * Prints the digest the moving tag now points at; fails if it is not the source's.
 */
export const PROMOTE_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
${REGISTRY_LOGIN}
want=\${LAYERSTACK_IMAGE_REF##*@}
skopeo copy --quiet --retry-times 2 --preserve-digests \\
  --src-tls-verify="$LAYERSTACK_TLS_VERIFY" --dest-tls-verify="$LAYERSTACK_TLS_VERIFY" --digestfile "$tmp/digest" \\
  "docker://$LAYERSTACK_IMAGE_REF" "docker://$LAYERSTACK_REPOSITORY:$LAYERSTACK_MOVING_TAG" >&2
digest=$(cat "$tmp/digest")
if [ "$digest" != "$want" ]; then
  echo "promote: $LAYERSTACK_REPOSITORY:$LAYERSTACK_MOVING_TAG now points at $digest, not at $want" >&2
  exit 1
fi
echo "$digest"`;

/** GitHub Actions events that run for a pull request: moving tags never move for these. */
export const PULL_REQUEST_EVENTS: readonly string[] = ["pull_request", "pull_request_target"];

/** The promote's environment: PROMOTE_SCRIPT under DEFAULT_TIMEOUTS.promote. */
export function promoteEnv(p: {
    readonly imageRef: pulumi.Input<string>;
    readonly repositoryUrl: string;
    readonly movingTag: string;
    readonly registry: string;
    readonly registryAuth?: RegistryAuth;
}): ScriptEnv {
    return {
        ...scriptEnv(PROMOTE_SCRIPT, DEFAULT_TIMEOUTS.promote),
        LAYERSTACK_IMAGE_REF: p.imageRef,
        LAYERSTACK_REPOSITORY: p.repositoryUrl,
        LAYERSTACK_MOVING_TAG: p.movingTag,
        ...registryEnv(p.registry, p.registryAuth),
    };
}
