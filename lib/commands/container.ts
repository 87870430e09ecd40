/**
 * A nix2container image's own layers (lib/nix2container.ts): building one layer, which is
 * realising its buildLayer derivation, and reading what its layers.json says.
 */
import type * as pulumi from "@pulumi/pulumi";
import type { NixBuilders } from "../builders";
import { scriptEnv } from "./bounded";
import { buildersEnv, withBuilders } from "./builders";
import { withNixConfig } from "./cache";
import { ScriptEnv, layerEnv, nixConfigEnv } from "./env";

/**
 * Builds one nix2container layer: realises its layers.json derivation (LAYERSTACK_DRV_PATH),
 * which Nix builds only when it changed, then prints its layers.json as one JSON line, each
 * of the layer's blobs as `{digest, size}` (nlewo/nix2container types/types.go Layer: the
 * digest of the layer's tar and its size, as the image JSON hands them to copyTo).
 */
export const CONTAINER_LAYER_SCRIPT = `set -eu
out=$(nix-store --realise --no-gc-warning --no-build-output "$LAYERSTACK_DRV_PATH")
exec jq -c '[.[] | {digest, size}]' "$out/layers.json"`;

/** One container layer's build environment (CONTAINER_LAYER_SCRIPT). */
export function containerLayerEnv(b: { readonly drvPath: string; readonly timeoutSeconds: number; readonly nixConfig?: pulumi.Input<string>; readonly builders?: NixBuilders }): ScriptEnv {
    const script = withNixConfig(CONTAINER_LAYER_SCRIPT);
    return {
        ...scriptEnv(b.builders ? withBuilders(script) : script, b.timeoutSeconds),
        ...layerEnv({ drvPath: b.drvPath }), ...nixConfigEnv(b.nixConfig), ...(b.builders ? buildersEnv(b.builders) : {}),
    };
}

/** A layer's blobs as CONTAINER_LAYER_SCRIPT prints them. */
export interface ContainerBlob {
    readonly digest: string;
    readonly size: number;
}

/** Reads CONTAINER_LAYER_SCRIPT's stdout. */
export function parseContainerLayer(stdout: string): ContainerBlob[] {
    const v = JSON.parse(stdout) as unknown;
    if (!Array.isArray(v) || !v.every((b) => typeof b?.digest === "string" && /^sha256:[0-9a-f]{64}$/.test(b.digest) && typeof b.size === "number")) {
        throw new Error(`not a nix2container layers.json: ${stdout.slice(0, 200)}`);
    }
    return v as ContainerBlob[];
}
