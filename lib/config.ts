import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { raiseAll } from "./errors";
import { LayerSpec, orderLayers } from "./graph";
import { megapakLayers } from "../layers";

/**
 * Everything the stack reads from config, validated. This module is the only place that
 * reads config; the rest of the program gets a `StackSettings`.
 */
export interface StackSettings {
    /** Flake reference; relative `path:` references are made absolute. */
    readonly flake: string;
    /** The layers, parents first. From `layerstack:layers`, or the megapak catalog. */
    readonly layers: LayerSpec[];
    /** Where `layers` came from, for messages. */
    readonly layersSource: "catalog" | "layerstack:layers";
    /** Registry host[:port]. */
    readonly registry: string;
    /** Path prefix under the registry; each layer is pushed to `<registry>/<repository>/<id>`. */
    readonly repository: string;
    /** Nix system whose packages are built. @default "x86_64-linux" */
    readonly system: string;
    /** Prefix of every immutable tag, so two stacks never collide. @default the stack name */
    readonly variant: string;
    /** Seconds a layer's build may take before it and its process tree are killed. @default none */
    readonly buildTimeoutSeconds?: number;
    readonly registryAuth?: RegistryAuth;
}

export interface RegistryAuth {
    readonly username: string;
    readonly password: pulumi.Output<string>;
}

/** The raw values of the config keys, as strings or parsed YAML; secrets stay Outputs. */
export interface RawConfig {
    flake?: string;
    layers?: unknown;
    registry?: string;
    repository?: string;
    system?: string;
    variant?: string;
    buildTimeout?: string;
    registryUsername?: string;
    /** Only whether a password is set; its value is never looked at here. */
    hasRegistryPassword: boolean;
}

const NS = "layerstack";
const HOST_LABEL = "[a-z0-9]([a-z0-9-]*[a-z0-9])?";
export const REGISTRY = new RegExp(`^(localhost|\\[[0-9a-fA-F:]+\\]|${HOST_LABEL}(\\.${HOST_LABEL})*)(:(?<port>\\d{1,5}))?$`, "i");
export const REPOSITORY = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const FLAKE_REF = /^(path:|git\+(https|ssh|file):|github:|gitlab:|sourcehut:|tarball\+|file\+|https:|flake:|\/|\.\.?\/)[^\s"'`$\\]*$/;
const SYSTEM = /^[a-z0-9_]+-[a-z0-9_]+$/;
const VARIANT = /^[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?$/;
const USERNAME = /^[^\s:]{1,128}$/;

/**
 * Validates raw config. Pure: no Pulumi engine needed, so every rule is tested directly.
 * Each problem names its key; no value of a secret key is ever echoed.
 */
export function validateConfig(raw: RawConfig, ctx: { stack: string; projectDir: string }): Omit<StackSettings, "registryAuth"> & { auth?: { username: string } } {
    const problems: string[] = [];
    const key = (k: string) => `${NS}:${k}`;
    const required = (k: keyof RawConfig): string | undefined => {
        const v = raw[k];
        if (v === undefined || v === "") {
            problems.push(`${key(k)} is required`);
            return undefined;
        }
        return v as string;
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
    }

    const system = raw.system ?? "x86_64-linux";
    if (!SYSTEM.test(system)) problems.push(`${key("system")}: ${JSON.stringify(system)} is not a Nix system (e.g. "x86_64-linux")`);

    const variant = raw.variant ?? ctx.stack;
    if (!VARIANT.test(variant)) {
        problems.push(`${key("variant")}: ${JSON.stringify(variant)} must be lowercase letters, digits, '.' or '-' (at most 32), as it starts every tag`);
    }

    let buildTimeoutSeconds: number | undefined;
    if (raw.buildTimeout !== undefined) {
        buildTimeoutSeconds = Number(raw.buildTimeout);
        if (!/^\d+$/.test(raw.buildTimeout.trim()) || !Number.isSafeInteger(buildTimeoutSeconds) || buildTimeoutSeconds < 1) {
            problems.push(`${key("buildTimeout")}: ${JSON.stringify(raw.buildTimeout)} must be a whole number of seconds, at least 1`);
        }
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

    let layers: LayerSpec[] = [];
    let layersSource: StackSettings["layersSource"] = "catalog";
    if (raw.layers === undefined) {
        layers = megapakLayers();
    } else {
        layersSource = "layerstack:layers";
        const parsed = parseLayers(raw.layers, problems);
        if (parsed) layers = parsed;
    }
    raiseAll(problems);
    // Graph rules (unknown parent, cycle, duplicate id) name the layer.
    layers = orderLayers(layers, layersSource);

    return {
        flake: flake!, layers, layersSource, registry: registry!, repository: repository!, system, variant, buildTimeoutSeconds, auth,
    };
}

function parseLayers(value: unknown, problems: string[]): LayerSpec[] | undefined {
    const k = `${NS}:layers`;
    if (!Array.isArray(value) || value.length === 0) {
        problems.push(`${k}: must be a non-empty list of {id, attr, parent?, format?}`);
        return undefined;
    }
    const allowed = new Set(["id", "attr", "parent", "format"]);
    const out: LayerSpec[] = [];
    value.forEach((v, i) => {
        if (typeof v !== "object" || v === null || Array.isArray(v)) {
            problems.push(`${k}[${i}]: must be an object {id, attr, parent?, format?}`);
            return;
        }
        const o = v as Record<string, unknown>;
        for (const f of Object.keys(o)) if (!allowed.has(f)) problems.push(`${k}[${i}]: unknown field "${f}" (allowed: id, attr, parent, format)`);
        const id = o.id;
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
    if (ref.startsWith("path:") && !ref.startsWith("path:/")) {
        const [p, query] = ref.slice("path:".length).split(/(?=\?)/);
        return "path:" + path.resolve(projectDir, p) + (query ?? "");
    }
    return ref;
}

/** The directory of a local `path:` flake, if it is one. */
export function localFlakeDir(ref: string): string | undefined {
    return ref.startsWith("path:/") ? ref.slice("path:".length).split("?")[0] : undefined;
}

/** Reads the `layerstack:*` keys of the current stack and validates them. */
export function loadSettings(cfg = new pulumi.Config(NS), projectDir = process.cwd()): StackSettings {
    const password = cfg.getSecret("registryPassword");
    const raw: RawConfig = {
        flake: cfg.get("flake"),
        layers: cfg.getObject<unknown>("layers"),
        registry: cfg.get("registry"),
        repository: cfg.get("repository"),
        system: cfg.get("system"),
        variant: cfg.get("variant"),
        buildTimeout: cfg.get("buildTimeout"),
        registryUsername: cfg.get("registryUsername"),
        hasRegistryPassword: password !== undefined,
    };
    const { auth, ...settings } = validateConfig(raw, { stack: pulumi.getStack(), projectDir });
    return { ...settings, registryAuth: auth && password ? { username: auth.username, password } : undefined };
}
