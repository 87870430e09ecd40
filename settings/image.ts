/**
 * The image keys: where the layers come from (flake, system, the layer list), where they go
 * (registry, repository, credentials), tags and build limits, the stack's Nix settings.
 */
import * as fs from "fs";
import * as path from "path";
import { CheckSpec, parseLayerChecks } from "../lib/checks";
import { DEFAULT_SYSTEM, defaultVariant } from "../lib/defaults";
import { LayerstackError } from "../lib/errors";
import { FLAKE_ATTR, LayerSpec } from "../lib/graph";
import { HOST_LABEL } from "../lib/hosts";
import { DEFAULT_REPOSITORY_LAYOUT, REPOSITORY_LAYOUTS, RepositoryLayout } from "../lib/layout";
import { NAME_TOTAL_LENGTH_MAX, REPOSITORY_PATH } from "../lib/reference";
import type { RegistryLimits } from "../lib/registryLimits";
import { RawConfig, key } from "./raw";

export const REGISTRY = new RegExp(`^(localhost|\\[[0-9a-fA-F:]+\\]|${HOST_LABEL}(\\.${HOST_LABEL})*)(:(?<port>\\d{1,5}))?$`, "i");
/** The OCI distribution grammar of a repository path (lib/reference.ts). */
export const REPOSITORY = REPOSITORY_PATH;
const FLAKE_REF = /^(path:|git\+(https|ssh|file):|github:|gitlab:|sourcehut:|tarball\+|file\+|https:|flake:|\/|\.\.?\/)[^\s"'`$\\]*$/;
const SYSTEM = /^[a-z0-9_]+-[a-z0-9_]+$/;
const VARIANT = /^[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?$/;
const USERNAME = /^[^\s:]{1,128}$/;
/** A nix.conf line: a setting, a comment or blank (nix.conf(5)). */
const NIX_CONF_LINE = /^\s*(#.*)?$|^\s*[A-Za-z][A-Za-z0-9-]*\s*=[^\n]*$/;

/** The image keys, validated (the layer list not yet ordered or composed with the catalog). */
export interface ImageConfig {
    flake?: string;
    registry?: string;
    repository?: string;
    /** One repository per layer, or all in `repository` (`layerstack:repositoryLayout`, lib/layout.ts). */
    repositoryLayout: RepositoryLayout;
    system: string;
    variant: string;
    buildTimeoutSeconds?: number;
    nixConfig?: string;
    /** The registry user, when a password is set too. */
    auth?: { username: string };
    /** The stack's own layer list (`layerstack:layers`), when it has one. */
    layers?: LayerSpec[];
    /** Checks set on a layer of that list, by layer id. */
    layerChecks: Map<string, CheckSpec[]>;
    /** A nix2container image whose own layers are layers of the stack (`containerImage`, `containerLayerIds`). */
    containerImage?: { attr: string; layerIds?: string[] };
}

/** Validates the image keys, pushing each problem (naming its key) onto `problems`. */
export function validateImage(raw: RawConfig, ctx: { stack: string; projectDir: string }, problems: string[]): ImageConfig {
    const required = (k: "flake" | "registry" | "repository"): string | undefined => {
        const v = raw[k];
        if (v === undefined || v === "") {
            problems.push(`${key(k)} is required`);
            return undefined;
        }
        return v;
    };

    let flake = required("flake");
    if (flake !== undefined) {
        if (!FLAKE_REF.test(flake)) {
            problems.push(`${key("flake")}: ${JSON.stringify(flake)} is not a flake reference (expected e.g. "path:/abs/dir", "github:owner/repo" or "git+https://...")`);
        } else {
            flake = absolutizeFlake(flake, ctx.projectDir);
            const local = localFlakeDir(flake);
            if (local !== undefined && !fs.existsSync(path.join(local, "flake.nix"))) {
                problems.push(`${key("flake")}: no flake.nix in ${local}`);
            }
        }
    }

    const registry = required("registry");
    if (registry !== undefined) {
        const m = REGISTRY.exec(registry);
        const port = m?.groups?.port;
        if (!m || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
            problems.push(`${key("registry")}: ${JSON.stringify(registry)} is not a registry host[:port] (e.g. "ghcr.io" or "127.0.0.1:5000"; no scheme, no path)`);
        }
    }

    const repository = required("repository");
    if (repository !== undefined && !REPOSITORY.test(repository)) {
        problems.push(`${key("repository")}: ${JSON.stringify(repository)} is not a repository path (lowercase components separated by '/', e.g. "owner/megapak")`);
    } else if (repository !== undefined && registry !== undefined && `${registry}/${repository}/x`.length > NAME_TOTAL_LENGTH_MAX) {
        problems.push(`${key("repository")}: "${registry}/${repository}" is ${registry.length + 1 + repository.length} characters, which leaves no room for a layer id: an image name may have at most ${NAME_TOTAL_LENGTH_MAX}`);
    }

    const repositoryLayout = (raw.repositoryLayout ?? DEFAULT_REPOSITORY_LAYOUT) as RepositoryLayout;
    if (!REPOSITORY_LAYOUTS.includes(repositoryLayout)) {
        problems.push(`${key("repositoryLayout")}: ${JSON.stringify(raw.repositoryLayout)} must be ${REPOSITORY_LAYOUTS.map((l) => `"${l}"`).join(" or ")} (a repository per layer, or every layer in ${key("repository")} with its id in the tag)`);
    }

    const system = raw.system ?? DEFAULT_SYSTEM;
    if (!SYSTEM.test(system)) problems.push(`${key("system")}: ${JSON.stringify(system)} is not a Nix system (e.g. "${DEFAULT_SYSTEM}")`);

    const variant = raw.variant ?? defaultVariant(ctx.stack);
    if (!VARIANT.test(variant)) {
        problems.push(`${key("variant")}: ${JSON.stringify(variant)} must be lowercase letters, digits, '.' or '-' (at most 32), as it starts every tag`);
    }

    const buildTimeoutSeconds = wholeNumber(raw.buildTimeout, 1, () => `${key("buildTimeout")}: ${JSON.stringify(raw.buildTimeout)} must be a whole number of seconds, at least 1`, problems);

    let nixConfig: string | undefined;
    if (raw.nixConfig !== undefined) {
        const lines = raw.nixConfig.split("\n");
        const bad = lines.findIndex((l) => !NIX_CONF_LINE.test(l));
        if (bad >= 0) problems.push(`${key("nixConfig")}: line ${bad + 1} ${JSON.stringify(lines[bad].slice(0, 80))} is not a nix.conf setting ("name = value", one per line)`);
        else nixConfig = raw.nixConfig.trim() || undefined;
    }

    let auth: { username: string } | undefined;
    if (raw.registryUsername !== undefined || raw.hasRegistryPassword) {
        if (raw.registryUsername === undefined) {
            problems.push(`${key("registryUsername")} is required when ${key("registryPassword")} is set`);
        } else if (!USERNAME.test(raw.registryUsername)) {
            problems.push(`${key("registryUsername")}: must be 1 to 128 characters without spaces or ':'`);
        } else if (!raw.hasRegistryPassword) {
            problems.push(`${key("registryPassword")} is required when ${key("registryUsername")} is set (set it with: pulumi config set --secret ${key("registryPassword")})`);
        } else {
            auth = { username: raw.registryUsername };
        }
    }

    let containerImage: ImageConfig["containerImage"];
    if (raw.containerImage !== undefined) {
        if (!FLAKE_ATTR.test(raw.containerImage)) problems.push(`${key("containerImage")}: ${JSON.stringify(raw.containerImage)} is not a flake attribute name`);
        else containerImage = { attr: raw.containerImage };
    }
    if (raw.containerLayerIds !== undefined) {
        const ids = raw.containerLayerIds;
        if (raw.containerImage === undefined) problems.push(`${key("containerLayerIds")} needs ${key("containerImage")}: it names that image's layers`);
        else if (!Array.isArray(ids) || !ids.every((x) => typeof x === "string")) problems.push(`${key("containerLayerIds")}: must be a list of layer ids, in the image's order`);
        else if (containerImage) containerImage = { ...containerImage, layerIds: ids as string[] };
    }

    const layerChecks = new Map<string, CheckSpec[]>();
    const layers = raw.layers === undefined ? undefined : parseLayers(raw.layers, problems, layerChecks);
    return {
        flake, registry, repository, repositoryLayout, system, variant, buildTimeoutSeconds, ...(nixConfig ? { nixConfig } : {}), auth,
        ...(raw.layers !== undefined ? { layers: layers ?? [] } : {}), layerChecks, ...(containerImage ? { containerImage } : {}),
    };
}

/**
 * A whole number of at least `min`, or undefined when the key is unset; a malformed one pushes
 * `message()`. Written once for every numeric key.
 */
export function wholeNumber(value: string | undefined, min: number, message: () => string, problems: string[]): number | undefined {
    if (value === undefined) return undefined;
    const n = Number(value);
    if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n) || n < min) problems.push(message());
    return n;
}

/** A true/false key, `fallback` when unset; a malformed one pushes a problem. Written once for every boolean key. */
export function flag(raw: RawConfig, k: "deleteImagesOnDestroy" | "runChecks" | "promoteTags" | "runnerEphemeral" | "allowPublicRepository" | "runnerSshAgent" | "nixBuildersUseSubstitutes" | "forecast" | "explain", fallback: boolean, problems: string[]): boolean {
    const v = raw[k];
    if (v === undefined) return fallback;
    if (v !== "true" && v !== "false") problems.push(`${key(k)}: ${JSON.stringify(v)} must be true or false`);
    return fallback ? v !== "false" : v === "true";
}

/** `layerstack:layers`: `[{id, attr?, parent?, format?, checks?}]`; checks set on a layer go to `checks`. */
export function parseLayers(value: unknown, problems: string[], checks: Map<string, CheckSpec[]>): LayerSpec[] | undefined {
    const k = key("layers");
    if (!Array.isArray(value) || value.length === 0) {
        problems.push(`${k}: must be a non-empty list of {id, attr, parent?, format?, checks?}`);
        return undefined;
    }
    const allowed = new Set(["id", "attr", "parent", "format", "checks"]);
    const out: LayerSpec[] = [];
    value.forEach((v, i) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            problems.push(`${k}[${i}]: must be an object {id, attr, parent?, format?, checks?}`);
            return;
        }
        const o = v as Record<string, unknown>;
        for (const f of Object.keys(o)) if (!allowed.has(f)) problems.push(`${k}[${i}]: unknown field "${f}" (allowed: id, attr, parent, format, checks)`);
        const id = o.id;
        if (o.checks !== undefined && typeof id === "string") {
            const list = parseLayerChecks(o.checks, `${k}[${i}]`, problems);
            if (list) checks.set(id, list);
        }
        out.push({
            id: id as string,
            attr: (o.attr ?? id) as string,
            parent: o.parent === undefined || o.parent === null ? undefined : (o.parent as string),
            format: o.format as LayerSpec["format"],
        });
    });
    return out;
}

/** Makes a relative `path:` or bare relative reference absolute, against the project directory. */
export function absolutizeFlake(ref: string, projectDir: string): string {
    if (ref.startsWith("./") || ref.startsWith("../")) return "path:" + path.resolve(projectDir, ref);
    if (ref.startsWith("/")) return "path:" + ref;
    if (ref.startsWith("path:") && !ref.startsWith("path:/")) return resolveAfterScheme("path:", ref, projectDir);
    return ref;
}

/** `<scheme><relative path>[?query]` with the path made absolute against the project directory. */
export function resolveAfterScheme(scheme: string, ref: string, projectDir: string): string {
    const [p, query] = ref.slice(scheme.length).split(/(?=\?)/);
    return scheme + path.resolve(projectDir, p) + (query ?? "");
}

/** The directory of a local `path:` flake, if it is one. */
export function localFlakeDir(ref: string): string | undefined {
    if (!ref.startsWith("path:/")) return undefined;
    const [dir, query] = ref.slice("path:".length).split(/\?(.*)/s);
    // `?dir=<subdir>`: the flake is that subdirectory of the tree (Nix's flakeref `dir` attribute).
    const sub = new URLSearchParams(query ?? "").get("dir");
    return sub ? path.join(dir, sub) : dir;
}

/**
 * `layerstack:nixAccessTokens`: Nix's `access-tokens` value, `host=token` entries separated by
 * spaces or newlines (NixOS/nix 2.26.3 src/libfetchers/fetch-settings.hh), as one line. Which
 * fetchers send them: github, gitlab and sourcehut inputs (src/libfetchers/github.cc,
 * makeHeadersWithAuthTokens), for the host the input names. A problem names the entry by
 * number, never its text.
 */
export function parseNixAccessTokens(text: string): string {
    const entries = text.split(/\s+/).filter(Boolean);
    if (!entries.length) throw new LayerstackError(`${key("nixAccessTokens")} is empty: it holds Nix access-tokens entries, host=token (e.g. github.com=ghp_...)`);
    const bad = entries.findIndex((e) => !/^[A-Za-z0-9.-]+=[^=\s]\S*$/.test(e));
    if (bad >= 0) throw new LayerstackError(`${key("nixAccessTokens")}: entry ${bad + 1} is not host=token, as Nix's access-tokens setting takes them (e.g. github.com=ghp_..., gitlab.example.com=PAT:glpat-...)`);
    return entries.join(" ");
}

/**
 * `layerstack:registryLimits`: what the registry refuses (lib/registryLimits.ts), an object of
 * whole numbers `maxBlobBytes`, `maxUploadSeconds`, `uploadBytesPerSecond`, `maxLayers` and the
 * flag `allowOverLimits`; over GHCR's defaults where the registry is ghcr.io.
 */
export function parseRegistryLimits(v: unknown, problems: string[]): RegistryLimits | undefined {
    if (v === undefined) return undefined;
    const k = key("registryLimits");
    if (typeof v !== "object" || v === null || Array.isArray(v)) {
        problems.push(`${k}: must be an object of maxBlobBytes, maxUploadSeconds, uploadBytesPerSecond, maxLayers and allowOverLimits`);
        return undefined;
    }
    const out: Record<string, number | boolean> = {};
    for (const [name, value] of Object.entries(v as Record<string, unknown>)) {
        if (name === "allowOverLimits") {
            if (typeof value === "boolean" || value === "true" || value === "false") out[name] = value === true || value === "true";
            else problems.push(`${k}.allowOverLimits: ${JSON.stringify(value)} must be true or false`);
        } else if (["maxBlobBytes", "maxUploadSeconds", "uploadBytesPerSecond", "maxLayers"].includes(name)) {
            const n = typeof value === "number" ? value : typeof value === "string" && /^\d+$/.test(value) ? Number(value) : NaN;
            if (Number.isSafeInteger(n) && n >= 1) out[name] = n;
            else problems.push(`${k}.${name}: ${JSON.stringify(value)} must be a whole number, at least 1`);
        } else {
            problems.push(`${k}: unknown limit "${name}" (maxBlobBytes, maxUploadSeconds, uploadBytesPerSecond, maxLayers, allowOverLimits)`);
        }
    }
    return out as RegistryLimits;
}
