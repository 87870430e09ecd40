import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { DEFAULT_GITHUB_API_URL, trimUrl } from "../lib/defaults";
import { childName } from "../lib/naming";
import { GithubPackages, RegistryAuth, RegistryClient } from "../lib/registry";
import { NixImageLayer } from "./nixImageLayer";
import { movingTag } from "../lib/layout";
import { attachmentTags } from "../lib/commands/sign";

/**
 * Retiring old images, never by surprise (design 13):
 *
 * - `keep` (layerstack:keepImages): after a layer is published and checked (and its moving tag
 *   promoted), the layer's immutable tags beyond the newest `keep` are deleted, newest by the
 *   order this stack published them (its `history` in the state; tags of this stack's variant
 *   that it has no record of, e.g. pushed before retention was on, count as older, in name
 *   order). A digest that a kept tag, the moving tag or the stack's outputs still reference is
 *   never deleted. Unset: every tag is kept.
 * - `deleteOnDestroy` (layerstack:deleteImagesOnDestroy): when the resource is deleted (`pulumi
 *   destroy`, or the layer is removed or renamed, or moves to another registry or repository),
 *   every immutable tag of this stack's variant and its moving tag are deleted from that
 *   repository. Unset: destroy deletes no image.
 *
 * How an image is deleted: the distribution API, `DELETE /v2/<name>/manifests/<digest>`
 * (distribution's registry/handlers/manifests.go untags every tag on that digest; the registry
 * must allow deletes, `storage.delete.enabled`), and on ghcr.io, which answers that with 405,
 * GitHub's packages API: the package version whose name is the digest (lib/registry.ts
 * GithubPackages). Blobs are left to the registry's own garbage collection.
 *
 * What cosign attached to a deleted digest goes with it: its `sha256-<hex>.sig`, `.att` and
 * `.sbom` tags (lib/commands/sign.ts attachmentTags, cosign's tag scheme), each a manifest of its
 * own that names the image only by that tag. Only those of the digests deleted: a kept image
 * keeps its signature and attestations.
 */

/** The inputs of one layer's retention. */
export interface RetentionState {
    registry: string;
    /** Repository path without the registry. */
    repository: string;
    /** This stack's variant: its immutable tags are `<variant>-<32-character drv hash><tagSuffix>`. */
    variant: string;
    /** What the layer's tags end with (lib/layout.ts): `-<id>` when every layer shares one repository. @default "" */
    tagSuffix?: string;
    /** Immutable tags to keep, the current one included; 0 keeps all. */
    keep: number;
    deleteOnDestroy: boolean;
    /** The layer's current immutable tag and the digest its push exported. */
    tag: string;
    digest: string;
    /** Further digests a stack output references (the promoted moving tag's). */
    protect: string[];
    username?: string;
    password?: string;
    /** GitHub's REST API, for ghcr.io. */
    githubApiUrl: string;
    /** Outputs: this stack's immutable tags in the order it published them, oldest first. */
    history?: string[];
    /** Outputs: the tags deleted by the last run. */
    retired?: string[];
}

/** What one retention run deletes, and the history it keeps. Pure, so it is tested directly. */
export function planRetention(p: {
    /** Every tag of the repository and the digest it points at. */
    tags: ReadonlyMap<string, string>;
    variant: string;
    /** The layer's tag suffix (lib/layout.ts). @default "" */
    tagSuffix?: string;
    /** Oldest first; the current tag last. */
    history: readonly string[];
    keep: number;
    /** Digests that must stay: the current one and any a stack output references. */
    protect: readonly string[];
    /** Retire every immutable tag of the variant and its moving tag (deleteOnDestroy). */
    all?: boolean;
}): { retire: string[]; deleteDigests: string[]; history: string[]; deleteAttachments: string[] } {
    const esc = (s: string) => s.replace(/[.]/g, "\\.");
    const suffix = p.tagSuffix ?? "";
    const ours = new RegExp(`^${esc(p.variant)}-[0-9a-z]{32}${esc(suffix)}$`);
    const moving = movingTag(p.variant, suffix);
    const mine = [...p.tags.keys()].filter((t) => ours.test(t));
    const known = p.history.filter((t) => mine.includes(t));
    const unknown = mine.filter((t) => !known.includes(t)).sort();
    const ordered = [...unknown, ...known];
    let retire: string[];
    if (p.all) retire = [...ordered, ...(p.tags.has(moving) ? [moving] : [])];
    else retire = p.keep > 0 ? ordered.slice(0, Math.max(0, ordered.length - p.keep)) : [];
    const retiring = new Set(retire);
    const kept = new Set<string>(p.all ? [] : p.protect);
    for (const [t, d] of p.tags) if (!retiring.has(t)) kept.add(d);
    const deleteDigests = [...new Set(retire.map((t) => p.tags.get(t)!))].filter((d) => !kept.has(d));
    // A tag whose digest must stay is not deleted, so it is not "retired" either.
    const gone = retire.filter((t) => deleteDigests.includes(p.tags.get(t)!));
    // cosign's attachments of the digests deleted, where the registry has them.
    const deleteAttachments = deleteDigests.flatMap((d) => attachmentTags(d)).filter((t) => p.tags.has(t));
    return { retire: gone, deleteDigests, history: p.all ? [] : ordered.filter((t) => !gone.includes(t)), deleteAttachments };
}

/** Runs `f` over `xs`, at most `n` at once. */
async function pool<T, R>(xs: readonly T[], n: number, f: (x: T) => Promise<R>): Promise<R[]> {
    const out: R[] = new Array(xs.length);
    let next = 0;
    const worker = async () => { while (next < xs.length) { const i = next++; out[i] = await f(xs[i]); } };
    await Promise.all(Array.from({ length: Math.min(n, xs.length) }, worker));
    return out;
}

/** Applies retention to one repository; returns the tags it deleted and the history to keep. */
async function retire(s: RetentionState, history: string[], all: boolean): Promise<{ retired: string[]; history: string[] }> {
    if (!all && !(s.keep > 0)) return { retired: [], history };
    const protect = [s.digest, ...(s.protect ?? [])].filter(Boolean);
    if (s.registry.toLowerCase() === "ghcr.io") {
        if (!s.password) throw new Error(`ghcr.io: retiring images of ${s.repository} needs layerstack:registryPassword (a token with read:packages and delete:packages)`);
        const gh = new GithubPackages(s.githubApiUrl, s.password);
        const [owner, ...rest] = s.repository.split("/");
        const { base, versions } = await gh.versions(owner, rest.join("/"));
        const tags = new Map<string, string>();
        for (const v of versions) for (const t of v.tags) tags.set(t, v.digest);
        const plan = planRetention({ tags, variant: s.variant, tagSuffix: s.tagSuffix, history, keep: s.keep, protect, all });
        for (const t of plan.deleteAttachments) {
            const v = versions.find((x) => x.tags.includes(t))!;
            await gh.deleteVersion(base, v.id, `ghcr.io/${s.repository}:${t}`);
        }
        for (const d of plan.deleteDigests) {
            const v = versions.find((x) => x.digest === d)!;
            await gh.deleteVersion(base, v.id, `ghcr.io/${s.repository}@${d}`);
        }
        return { retired: plan.retire, history: plan.history };
    }
    const client = new RegistryClient({ registry: s.registry, username: s.username, password: s.password });
    const names = await client.listTags(s.repository);
    const digests = await pool(names, 8, (t) => client.headManifest(s.repository, t));
    const tags = new Map<string, string>();
    names.forEach((t, i) => { if (digests[i]) tags.set(t, digests[i]!); });
    const plan = planRetention({ tags, variant: s.variant, tagSuffix: s.tagSuffix, history, keep: s.keep, protect, all });
    // The attachments first: were the image's delete to fail, a retry still finds them by its digest.
    for (const t of plan.deleteAttachments) await client.deleteManifest(s.repository, tags.get(t)!);
    for (const d of plan.deleteDigests) await client.deleteManifest(s.repository, d);
    return { retired: plan.retire, history: plan.history };
}

const IDENTITY: (keyof RetentionState)[] = ["registry", "repository", "tagSuffix"];
const SETTINGS: (keyof RetentionState)[] = ["variant", "keep", "deleteOnDestroy", "tag", "digest", "protect", "username", "password", "githubApiUrl"];

/** The provider, serialized into the state with its closure: code only, no value of the stack. */
export const retentionProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: RetentionState, news: RetentionState): Promise<pulumi.dynamic.DiffResult> {
        const replaces = IDENTITY.filter((k) => olds[k] !== news[k]);
        const changes = replaces.length > 0 || SETTINGS.some((k) => JSON.stringify(olds[k]) !== JSON.stringify(news[k]));
        return { changes, replaces };
    },
    async create(inputs: RetentionState): Promise<pulumi.dynamic.CreateResult> {
        const crypto = require("crypto") as typeof import("crypto");
        const r = await retire(inputs, [inputs.tag], false);
        return { id: crypto.randomUUID(), outs: { ...inputs, history: r.history, retired: r.retired } };
    },
    async update(_id: string, olds: RetentionState, news: RetentionState): Promise<pulumi.dynamic.UpdateResult> {
        const history = [...(olds.history ?? []).filter((t) => t !== news.tag), news.tag];
        const r = await retire(news, history, false);
        return { outs: { ...news, history: r.history, retired: r.retired } };
    },
    async delete(_id: string, props: RetentionState): Promise<void> {
        if (props.deleteOnDestroy) await retire(props, props.history ?? [], true);
    },
};

export interface ImageRetentionArgs {
    /** The layers whose repositories are kept tidy, by layer id. */
    readonly layers: ReadonlyMap<string, NixImageLayer>;
    /** Registry host[:port] the layers were pushed to. */
    readonly registry: string;
    /** The variant that starts the stack's immutable tags (and its moving tag, `<variant>-latest`). */
    readonly variant: string;
    /** Immutable tags kept per layer, the current one included. @default all are kept */
    readonly keep?: number;
    /** Delete the stack's images when a layer's retention is deleted (`pulumi destroy`, a removed layer). @default false */
    readonly deleteOnDestroy?: boolean;
    /** The moving-tag commands (TagPromotion.commands): retention runs after them and keeps their digests. @default none */
    readonly promoted?: ReadonlyMap<string, command.local.Command>;
    /** Registry credentials; the password must be a secret Output. @default anonymous */
    readonly registryAuth?: RegistryAuth;
    /** GitHub's REST API, for ghcr.io. @default DEFAULT_GITHUB_API_URL ("https://api.github.com") */
    readonly githubApiUrl?: string;
    /** The registry read-back's provider (ImagePipelineArgs.readBack): one `pulumi-nodejs` provider process serves the retention too. @default the default provider */
    readonly readBack?: pulumi.ProviderResource;
}

/** One layer's retention, a dynamic resource (type `pulumi-nodejs:dynamic/layerstack:ImageRetention`). */
export class LayerRetention extends pulumi.dynamic.Resource {
    /** This stack's immutable tags still in the registry, oldest first. */
    public readonly history!: pulumi.Output<string[]>;
    /** The tags the last run deleted. */
    public readonly retired!: pulumi.Output<string[]>;

    constructor(name: string, props: Record<string, pulumi.Input<unknown>>, opts?: pulumi.CustomResourceOptions) {
        super(retentionProvider, name, { ...props, history: undefined, retired: undefined }, opts, "layerstack", "ImageRetention");
    }
}

/**
 * Per layer, a dynamic resource `<id>-retention` that retires the layer's old immutable tags
 * once the layer is published, checked and promoted, and (when asked) deletes the stack's
 * images when it is deleted. See the top of this file.
 */
export class ImageRetention extends pulumi.ComponentResource {
    public readonly resources: ReadonlyMap<string, LayerRetention>;

    constructor(name: string, args: ImageRetentionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:ImageRetention", name, {}, opts);
        const resources = new Map<string, LayerRetention>();
        for (const [id, layer] of args.layers) {
            const promote = args.promoted?.get(id);
            const protect = promote ? pulumi.unsecret(promote.stdout).apply((s) => (s ? [s.trim()] : [])) : [];
            resources.set(id, new LayerRetention(childName(id, "retention"), {
                registry: args.registry,
                repository: layer.repositoryPath,
                variant: args.variant,
                // Only in the single layout: a per-layer stack's state stays as it was (no replacement).
                ...(layer.tagSuffix ? { tagSuffix: layer.tagSuffix } : {}),
                keep: args.keep ?? 0,
                deleteOnDestroy: args.deleteOnDestroy ?? false,
                tag: layer.tag,
                digest: layer.digest,
                protect,
                ...(args.registryAuth ? { username: args.registryAuth.username, password: pulumi.secret(args.registryAuth.password) } : {}),
                githubApiUrl: trimUrl(args.githubApiUrl ?? DEFAULT_GITHUB_API_URL),
            }, { parent: this, provider: args.readBack, dependsOn: [...layer.promotionGate, ...(promote ? [promote] : [])] }));
        }
        this.resources = resources;
        this.registerOutputs({});
    }
}
