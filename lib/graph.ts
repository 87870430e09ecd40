import { LayerstackError, raiseAll } from "./errors";

/**
 * The formats a layer can force (`format` in `layerstack:layers`). Without one the push
 * detects the kind from the output itself (lib/commands/image.ts), nix2container included.
 */
export const IMAGE_FORMATS = ["oci", "docker-archive", "stream"] as const;
export type ImageFormat = (typeof IMAGE_FORMATS)[number];

/** One layer of an image tree, as the catalog or the `layerstack:layers` key declares it. */
export interface LayerSpec {
    /** Resource name and registry path segment, e.g. `layer04-pytorch`. */
    readonly id: string;
    /** Attribute under the flake's package set, e.g. `layer04-pytorch`. */
    readonly attr: string;
    /** The id of the layer this one builds on. @default none: a root layer */
    readonly parent?: string;
    /**
     * Forces how the attribute's output is read, instead of detecting it by content.
     * @default detected: OCI layout, docker-archive (tar, gzip, zstd), stream script or nix2container copyTo
     */
    readonly format?: ImageFormat;
}

/**
 * A layer id: one repository path component of the OCI distribution grammar (lib/reference.ts),
 * since it names the layer's repository `<registry>/<repository>/<id>`, at most 64 characters.
 */
export const LAYER_ID = /^(?=.{1,64}$)[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
export const FLAKE_ATTR = /^[A-Za-z_][A-Za-z0-9_'+-]*$/;

/**
 * Checks that the layers form a forest (each layer has at most one parent, no cycles)
 * and returns them parents-first. Every problem names the layer it is about.
 */
export function orderLayers(layers: readonly LayerSpec[], source: string): LayerSpec[] {
    const problems: string[] = [];
    const byId = new Map<string, LayerSpec>();
    layers.forEach((l, i) => {
        const where = `${source}[${i}]`;
        if (typeof l.id !== "string" || !LAYER_ID.test(l.id)) {
            problems.push(`${where}: layer id ${JSON.stringify(l.id)} is not a repository path component: lowercase letters and digits, joined by one '.', one or two '_' or any '-' (at most 64 characters)`);
            return;
        }
        if (typeof l.attr !== "string" || !FLAKE_ATTR.test(l.attr)) {
            problems.push(`${where}: layer "${l.id}" has an invalid flake attribute ${JSON.stringify(l.attr)}`);
        }
        if (l.format !== undefined && !(IMAGE_FORMATS as readonly string[]).includes(l.format)) {
            problems.push(`${where}: layer "${l.id}" has format ${JSON.stringify(l.format)}; expected one of ${IMAGE_FORMATS.join(", ")}`);
        }
        if (l.parent !== undefined && typeof l.parent !== "string") {
            problems.push(`${where}: layer "${l.id}" has a parent that is not a layer id`);
        }
        if (byId.has(l.id)) problems.push(`${where}: duplicate layer id "${l.id}"`);
        else byId.set(l.id, l);
    });
    for (const l of byId.values()) {
        if (l.parent !== undefined && !byId.has(l.parent)) {
            problems.push(`${source}: layer "${l.id}" has unknown parent "${l.parent}"`);
        }
    }
    raiseAll(problems);

    const ordered: LayerSpec[] = [];
    const state = new Map<string, "visiting" | "done">();
    const visit = (l: LayerSpec, path: string[]): void => {
        const s = state.get(l.id);
        if (s === "done") return;
        if (s === "visiting") {
            const cycle = [...path.slice(path.indexOf(l.id)), l.id];
            throw new LayerstackError(`${source}: layer "${l.id}" is in a cycle: ${cycle.join(" -> ")}`);
        }
        state.set(l.id, "visiting");
        if (l.parent !== undefined) visit(byId.get(l.parent)!, [...path, l.id]);
        state.set(l.id, "done");
        ordered.push(l);
    };
    // Visit in declaration order so the result is stable.
    for (const l of byId.values()) visit(l, []);
    return ordered;
}

/** The ids of a layer and every layer beneath it. */
export function descendantsOf(layers: readonly LayerSpec[], id: string): string[] {
    const out = [id];
    for (let i = 0; i < out.length; i++) {
        for (const l of layers) if (l.parent === out[i]) out.push(l.id);
    }
    return out;
}

/** The ids of a layer's ancestors, root first, and the layer itself last. */
export function chainOf(layers: readonly LayerSpec[], id: string): string[] {
    const byId = new Map(layers.map((l) => [l.id, l]));
    const chain: string[] = [];
    for (let cur = byId.get(id); cur; cur = cur.parent ? byId.get(cur.parent) : undefined) chain.unshift(cur.id);
    return chain;
}
