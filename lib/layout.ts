/**
 * Where a layer's image goes in the registry: the repository layout (`layerstack:repositoryLayout`).
 *
 *   per-layer  every layer in a repository of its own, `<repository>/<id>`, tagged
 *              `<variant>-<drv hash>` (moving tag `<variant>-latest`). On GHCR each repository
 *              is a package, with its own visibility, access and versions.
 *   single     every layer in `<repository>` itself, the layer id at the end of its tags:
 *              `<variant>-<drv hash>-<id>` (moving tag `<variant>-latest-<id>`). On GHCR one
 *              package, one visibility, the layers' versions side by side.
 *
 * The single layout's tags put the id last, after the fixed-length hash: a variant has at most
 * 32 characters (settings/image.ts VARIANT), so `<variant>-` followed by 32 of [0-9a-z] and `-`
 * can be read one way only, whatever dashes the variant and the id hold, and one layer's
 * retention never takes another's tags (or another stack's, sharing the repository) for its own.
 */
import { LayerstackError } from "./errors";

export const REPOSITORY_LAYOUTS = ["per-layer", "single"] as const;
export type RepositoryLayout = (typeof REPOSITORY_LAYOUTS)[number];
/** The layout when a stack names none. */
export const DEFAULT_REPOSITORY_LAYOUT: RepositoryLayout = "per-layer";

/** A tag's length limit (OCI distribution spec: `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`). */
export const TAG_LENGTH_MAX = 128;

/** A layer's place in the registry under a layout. */
export interface LayerPlace {
    /** The repository path, without the registry. */
    readonly repositoryPath: string;
    /** What every tag of the layer ends with after its variant and hash (`""`, or `-<id>`). */
    readonly tagSuffix: string;
}

export function layerPlace(layout: RepositoryLayout | undefined, repository: string, id: string): LayerPlace {
    return (layout ?? DEFAULT_REPOSITORY_LAYOUT) === "single"
        ? { repositoryPath: repository, tagSuffix: `-${id}` }
        : { repositoryPath: `${repository}/${id}`, tagSuffix: "" };
}

/** The immutable tag of a layer: the variant, the hash part of its drvPath, then the layout's suffix. */
export function layerTag(variant: string, drvPath: string, tagSuffix = ""): string {
    const m = /^\/nix\/store\/([0-9a-z]{32})-[^/]+\.drv$/.exec(drvPath);
    if (!m) throw new LayerstackError(`not a derivation path: ${drvPath}`);
    return `${variant}-${m[1]}${tagSuffix}`;
}

/** The moving tag of a variant (`<variant>-latest`), with the layout's suffix. */
export function movingTag(variant: string, tagSuffix = ""): string {
    return `${variant}-latest${tagSuffix}`;
}

/** Whether a layer's longest tag fits the tag grammar's length; a message naming the layer if not. */
export function tagProblem(variant: string, place: LayerPlace): string | undefined {
    const longest = variant.length + 1 + 32 + place.tagSuffix.length;
    return longest > TAG_LENGTH_MAX
        ? `its tags would be ${longest} characters ("${variant}-<32-character drv hash>${place.tagSuffix}"); a tag may have at most ${TAG_LENGTH_MAX}: use a shorter id or variant`
        : undefined;
}
