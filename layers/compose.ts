/**
 * The catalog composed for a stack: which flake attributes its layers are read from, and which
 * smoke checks each layer runs, for the stack's CUDA variant and its own changes (a layer list
 * of its own, checks set on a layer, `layerstack:checks` overrides).
 */
import { CheckContext, CheckOverride, CheckSpec, applyOverrides } from "../lib/checks";
import { LayerstackError, raiseAll } from "../lib/errors";
import { LayerSpec } from "../lib/graph";
import { CudaVariant, findVariant } from "../lib/variants";
import { MEGAPAK, catalogChecks, megapakLayers } from "./megapak";

/** The CUDA variant whose layers the flake exposes under the catalog's own attribute names. */
export const FLAKE_DEFAULT_VARIANT = "cu130";

/** The versions a variant's checks expect. */
export function checkContext(v: CudaVariant): CheckContext {
    return { cuda: v.cuda, python: v.python, torch: v.pytorch };
}

/** The versions the checks of a stack that names no variant expect: the flake's default variant's (the megapak's own). */
export const DEFAULT_CHECK_CONTEXT: CheckContext = checkContext(findVariant(FLAKE_DEFAULT_VARIANT)!);

/**
 * The enabled catalog layers for a variant. The flake contract: the catalog's attributes are the
 * flake's default variant (cu130); another variant reads `<attr>-<variant>`, e.g.
 * `layer04-pytorch-cu128`.
 */
export function catalogLayers(variant?: CudaVariant): LayerSpec[] {
    const layers = megapakLayers();
    return variant && variant.id !== FLAKE_DEFAULT_VARIANT ? layers.map((l) => ({ ...l, attr: `${l.attr}-${variant.id}` })) : layers;
}

/**
 * The catalog layer whose flake attribute this is: `<attr>` (the flake's default variant) or
 * `<attr>-<variant>` (FLAKE_DEFAULT_VARIANT's rule). Checks follow the attribute, which names
 * what the image is, not the id, which a rename changes.
 */
export function catalogIdForAttr(attr: string, variant?: string): string | undefined {
    return MEGAPAK.find((c) => c.attr === attr || (variant !== undefined && `${c.attr}-${variant}` === attr))?.id;
}

/** What composeChecks works from. */
export interface ChecksInput {
    /** The stack's layers, and whether they are the catalog's (`"catalog"`) or the stack's own list (its config key). */
    readonly layers: readonly LayerSpec[];
    readonly source: string;
    /** Checks set on a layer of the stack's own list, by layer id. */
    readonly own: ReadonlyMap<string, CheckSpec[]>;
    /** The stack's overrides by layer id, and the key they come from (for messages). */
    readonly overrides: ReadonlyMap<string, CheckOverride[]>;
    readonly overridesKey: string;
    /** The stack's CUDA variant. @default none: DEFAULT_CHECK_CONTEXT */
    readonly variant?: CudaVariant;
    /** Whether the checks run at all (`layerstack:runChecks`); the rules above are checked either way. @default true */
    readonly run?: boolean;
}

/**
 * Each layer's checks: those set on it, else the catalog's for its flake attribute (so they
 * follow a renamed id), with the overrides applied on top. Refuses overrides keyed by an id the
 * stack does not have, and a catalog id moved to another attribute, which would silently lose
 * its checks (unless it sets its own). Errors name the key and the layer.
 */
export function composeChecks(i: ChecksInput): Map<string, CheckSpec[]> {
    for (const id of i.overrides.keys()) {
        if (!i.layers.some((l) => l.id === id)) {
            throw new LayerstackError(`${i.overridesKey}: no layer "${id}" in ${i.source} (checks are keyed by layer id: after a rename, key them by the new id)`);
        }
    }
    const ctx = i.variant ? checkContext(i.variant) : DEFAULT_CHECK_CONTEXT;
    const fromCatalog = i.source === "catalog";
    raiseAll(fromCatalog ? [] : i.layers.flatMap((l) => droppedChecks(l, i.own.has(l.id), i.source, i.variant?.id, ctx)));
    const checks = new Map<string, CheckSpec[]>();
    if (i.run === false) return checks;
    for (const l of i.layers) {
        const base = i.own.get(l.id) ?? catalogChecks(fromCatalog ? l.id : catalogIdForAttr(l.attr, i.variant?.id) ?? "", ctx);
        const list = applyOverrides(l.id, base, i.overrides.get(l.id) ?? [], i.overridesKey);
        if (list.length) checks.set(l.id, list);
    }
    return checks;
}

/**
 * A layer of a stack's own list that carries a catalog layer's id but not its attribute would
 * lose that layer's checks (they follow the attribute): unless it sets its own `checks`, that
 * is refused, naming the checks it would drop.
 */
function droppedChecks(l: LayerSpec, hasOwn: boolean, source: string, variant: string | undefined, ctx: CheckContext): string[] {
    if (hasOwn) return [];
    const byId = catalogChecks(l.id, ctx);
    if (byId.length === 0 || catalogIdForAttr(l.attr, variant) === l.id) return [];
    return [`${source}: layer "${l.id}" has the id of a catalog layer with checks (${byId.map((c) => c.name).join(", ")}), but the flake attribute ${JSON.stringify(l.attr)}: `
        + `checks follow the attribute, so these would be dropped. Set "checks" on the layer to keep them (or "checks: []" to run none)`];
}
