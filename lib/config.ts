import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LayerstackError, raiseAll } from "./errors";
import { LayerSpec, orderLayers } from "./graph";
import { megapakLayers, catalogChecks, applyOverrides, CheckContext, CheckOverride, CheckSpec } from "../layers";
import { CudaVariant, resolveVariant } from "./variants";
import { NixBuilders, RawBuildersConfig, readBuildersConfig, validateBuilders } from "./builders";

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
    /** Seconds a layer's build may take before it and its process tree are stopped. @default DEFAULT_TIMEOUTS.build (6 hours) */
    readonly buildTimeoutSeconds?: number;
    /**
     * nix.conf lines every Nix command of the stack runs with, in front of the caller's own
     * NIX_CONFIG (`layerstack:nixConfig`). The dev stack's turn this machine's Nix offline;
     * production stacks leave it unset and use the system's Nix as it is. @default none
     */
    readonly nixConfig?: string;
    readonly registryAuth?: RegistryAuth;
    /** Smoke checks per layer id: the catalog's, changed by `layerstack:checks`. Empty when `runChecks` is false. */
    readonly checks: ReadonlyMap<string, CheckSpec[]>;
    /** The CUDA variant of the matrix (lib/variants.ts), for stacks that name one. @default none */
    readonly cuda?: CudaVariant;
    /** Whether `<variant>-latest` tags are moved to the pushed digests (never for a pull request). @default false */
    readonly promoteTags: boolean;
    /** The Nix binary cache the layers' closures are pushed to. @default none */
    readonly cache?: CacheSettings;
    /** The GitHub repository whose Actions secrets, variables and runner are managed. @default none */
    readonly github?: GithubSettings;
    /** The self-hosted GPU runner, on an existing host reached over SSH. @default none */
    readonly runner?: RunnerSettings;
    /**
     * Where the smoke checks run: absent, on this machine (LayerChecks); set, in containers
     * with the GPUs on this Docker host, the GPU runner (RunnerChecks). @default this machine
     */
    readonly checkHost?: { readonly dockerHost: string };
    /** Nix remote builders for the layers' builds (`layerstack:nixBuilders`, lib/builders.ts). @default none: this machine builds */
    readonly builders?: NixBuilders;
}

export type CacheSettings =
    | { readonly kind: "cachix"; readonly name: string; readonly apiUrl: string; readonly authToken: pulumi.Output<string>; readonly signingKey?: pulumi.Output<string> }
    | { readonly kind: "nix-store"; readonly url: string; readonly publicKey?: string; readonly signingKey?: pulumi.Output<string> };

export interface GithubSettings {
    readonly owner: string;
    readonly repository: string;
    readonly token: pulumi.Output<string>;
    /** GitHub's REST API, without a trailing slash. @default "https://api.github.com" */
    readonly apiUrl: string;
}

export interface RunnerSettings {
    readonly user: string;
    readonly host: string;
    /** @default 22 */
    readonly port: number;
    /** The host's public key, `<type> <base64>`: the only host key SSH accepts. */
    readonly hostKey: string;
    /** Labels beyond self-hosted, linux, x64, gpu and cuda-<version>. @default [] */
    readonly labels: string[];
    /** Just-in-time runners, one job each, fetched by a service on the host. @default false */
    readonly ephemeral: boolean;
    /** @default false */
    readonly allowPublicRepository: boolean;
    /** Authenticate with the SSH agent (SSH_AUTH_SOCK) instead of `sshKey`. @default false */
    readonly sshAgent: boolean;
    /** Private key for SSH; required unless `sshAgent`. */
    readonly sshKey?: pulumi.Output<string>;
    /** The token the ephemeral mode's host service mints JIT configurations with; required when `ephemeral`. */
    readonly jitToken?: pulumi.Output<string>;
    /** Free disk the preflight requires under the runner's directory, in GB. @default 100 */
    readonly minFreeDiskGb: number;
    /** Where the pinned runner release is downloaded from, and its sha256. @default GitHub's releases, RUNNER_SHA256 */
    readonly release: { readonly url?: string; readonly sha256?: string };
}

export interface RegistryAuth {
    readonly username: string;
    readonly password: pulumi.Output<string>;
}

/** The raw values of the config keys, as strings or parsed YAML; secrets stay Outputs. */
export interface RawConfig extends RawBuildersConfig {
    flake?: string;
    layers?: unknown;
    registry?: string;
    repository?: string;
    system?: string;
    variant?: string;
    buildTimeout?: string;
    nixConfig?: string;
    registryUsername?: string;
    /** `{ "<layer id>": [{ name, script?, gpu?, skip? }] }`: add, replace or skip checks. */
    checks?: unknown;
    runChecks?: string;
    /** Only whether a password is set; its value is never looked at here. */
    hasRegistryPassword: boolean;
    cuda?: string;
    pytorch?: string;
    python?: string;
    promoteTags?: string;
    cache?: string;
    cachixCache?: string;
    cachixApiUrl?: string;
    cacheUrl?: string;
    cachePublicKey?: string;
    githubOwner?: string;
    githubRepository?: string;
    githubApiUrl?: string;
    runnerHost?: string;
    runnerHostKey?: string;
    runnerSshAgent?: string;
    runnerLabels?: unknown;
    runnerEphemeral?: string;
    allowPublicRepository?: string;
    runnerMinFreeDiskGb?: string;
    runnerReleaseUrl?: string;
    runnerReleaseSha256?: string;
    checksOn?: string;
    checksDockerHost?: string;
    /** Whether each secret key is set; their values are never looked at here. */
    hasCachixAuthToken?: boolean;
    hasCacheSigningKey?: boolean;
    hasGithubToken?: boolean;
    hasRunnerSshKey?: boolean;
    hasRunnerJitToken?: boolean;
}

/** The validated non-secret part of the production keys; loadSettings adds the secrets. */
export interface ProductionSettings {
    cuda?: CudaVariant;
    promoteTags: boolean;
    cache?: { kind: "cachix"; name: string; apiUrl: string } | { kind: "nix-store"; url: string; publicKey?: string };
    github?: Omit<GithubSettings, "token">;
    runner?: Omit<RunnerSettings, "sshKey" | "jitToken">;
    checkHost?: { dockerHost: string };
    builders?: Omit<NixBuilders, "sshKey">;
}

const NS = "layerstack";
const HOST_LABEL = "[a-z0-9]([a-z0-9-]*[a-z0-9])?";
export const REGISTRY = new RegExp(`^(localhost|\\[[0-9a-fA-F:]+\\]|${HOST_LABEL}(\\.${HOST_LABEL})*)(:(?<port>\\d{1,5}))?$`, "i");
export const REPOSITORY = /^[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*(\/[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*)*$/;
const FLAKE_REF = /^(path:|git\+(https|ssh|file):|github:|gitlab:|sourcehut:|tarball\+|file\+|https:|flake:|\/|\.\.?\/)[^\s"'`$\\]*$/;
const SYSTEM = /^[a-z0-9_]+-[a-z0-9_]+$/;
const VARIANT = /^[a-z0-9]([a-z0-9.-]{0,30}[a-z0-9])?$/;
const USERNAME = /^[^\s:]{1,128}$/;
/** A nix.conf line: a setting, a comment or blank (nix.conf(5)). */
const NIX_CONF_LINE = /^\s*(#.*)?$|^\s*[A-Za-z][A-Za-z0-9-]*\s*=[^\n]*$/;

/**
 * Validates raw config. Pure: no Pulumi engine needed, so every rule is tested directly.
 * Each problem names its key; no value of a secret key is ever echoed.
 */
export function validateConfig(raw: RawConfig, ctx: { stack: string; projectDir: string }): Omit<StackSettings, "registryAuth" | keyof ProductionSettings> & ProductionSettings & { auth?: { username: string } } {
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

    let layers: LayerSpec[] = [];
    let layersSource: StackSettings["layersSource"] = "catalog";
    if (raw.layers === undefined) {
        layers = megapakLayers();
    } else {
        layersSource = "layerstack:layers";
        const parsed = parseLayers(raw.layers, problems);
        if (parsed) layers = parsed;
    }
    const production = validateProduction(raw, variant, problems);
    const builders = validateBuilders(raw, problems);
    if (builders) production.builders = builders;
    // A project-local file cache (`file://./.layerstack/nix-cache`, the dev stack's) is made absolute.
    if (production.cache?.kind === "nix-store" && /^file:\/\/\.\.?\//.test(production.cache.url)) {
        production.cache = { ...production.cache, url: resolveAfterScheme("file://", production.cache.url, ctx.projectDir) };
    }
    // The flake contract: the catalog's attributes are the flake's default variant (cu130);
    // another CUDA variant reads `<attr>-<variant>`, e.g. `layer04-pytorch-cu128`.
    if (layersSource === "catalog" && production.cuda && production.cuda.id !== FLAKE_DEFAULT_VARIANT) {
        const suffix = production.cuda.id;
        layers = layers.map((l) => ({ ...l, attr: `${l.attr}-${suffix}` }));
    }
    let runChecks = true;
    if (raw.runChecks !== undefined) {
        if (raw.runChecks !== "true" && raw.runChecks !== "false") problems.push(`${key("runChecks")}: ${JSON.stringify(raw.runChecks)} must be true or false`);
        runChecks = raw.runChecks !== "false";
    }
    const overrides = parseCheckOverrides(raw.checks, problems);
    raiseAll(problems);
    // Graph rules (unknown parent, cycle, duplicate id) name the layer.
    layers = orderLayers(layers, layersSource);
    const checks = new Map<string, CheckSpec[]>();
    for (const id of overrides.keys()) {
        if (!layers.some((l) => l.id === id)) throw new LayerstackError(`${key("checks")}: no layer "${id}" in ${layersSource}`);
    }
    if (runChecks) {
        for (const l of layers) {
            const v = production.cuda;
            const ctx: CheckContext = v ? { cuda: v.cuda, python: v.python, torch: v.pytorch } : DEFAULT_CHECK_CONTEXT;
            const list = applyOverrides(l.id, catalogChecks(l.id, ctx), overrides.get(l.id) ?? [], key("checks"));
            if (list.length) checks.set(l.id, list);
        }
    }

    return {
        flake: flake!, layers, layersSource, registry: registry!, repository: repository!, system, variant, buildTimeoutSeconds, ...(nixConfig ? { nixConfig } : {}), auth, checks, ...production,
    };
}

export const DEFAULT_CACHIX_API_URL = "https://app.cachix.org/api/v1";
const CACHIX_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const DOCKER_HOST = /^(ssh:\/\/[^\s/"'`$\\]+|tcp:\/\/[^\s/"'`$\\]+|unix:\/\/\/[^\s"'`$\\]+)$/;
const STORE_URL = /^[a-z][a-z0-9+-]*:\/\/[^\s"'`$\\]+$/;
const HTTP_URL = /^https?:\/\/[^\s"'`$\\?#]+$/;
/** An API URL also goes into a systemd unit (ephemeral mode), where '%' starts a specifier. */
const API_URL = /^https?:\/\/[^\s"'`$\\?#%]+$/;
export const DEFAULT_GITHUB_API_URL = "https://api.github.com";
/** An SSH public key as `ssh-keyscan` prints it, with or without the leading host name. */
export const HOST_KEY = /^(?:(?<host>\S+)\s+)?(?<type>ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)\s+(?<key>[A-Za-z0-9+/]+={0,3})(?:\s+\S.*)?$/;
const NIX_PUBLIC_KEY = /^[A-Za-z0-9._-]+(-\d+)?:[A-Za-z0-9+/]{43}=$/;
const GITHUB_OWNER = /^[A-Za-z0-9](-?[A-Za-z0-9]){0,38}$/;
const GITHUB_REPO = /^[A-Za-z0-9._-]{1,100}$/;
const SSH_USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;
export const SSH_TARGET = new RegExp(`^(?<user>[^@\\s]+)@(?<host>\\[[0-9a-fA-F:]+\\]|${HOST_LABEL}(\\.${HOST_LABEL})*)(:(?<port>\\d{1,5}))?$`, "i");
const RUNNER_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const FIXED_LABELS = ["self-hosted", "linux", "x64", "gpu"];

/**
 * The keys of the production stacks: CUDA matrix, tag promotion, binary cache, GitHub and
 * GPU runner. Every one is optional, so a dev stack that sets none of them is untouched.
 */
function validateProduction(raw: RawConfig, variant: string, problems: string[]): ProductionSettings {
    const key = (k: string) => `${NS}:${k}`;
    const bool = (k: "promoteTags" | "runnerEphemeral" | "allowPublicRepository" | "runnerSshAgent"): boolean => {
        const v = raw[k];
        if (v === undefined) return false;
        if (v === "true" || v === "false") return v === "true";
        problems.push(`${key(k)}: ${JSON.stringify(v)} must be true or false`);
        return false;
    };
    const secretHint = (k: string) => `(set it with: pulumi config set --secret ${key(k)})`;
    const out: ProductionSettings = { promoteTags: bool("promoteTags") };

    // A stack claims a CUDA variant by its name (cuNNN), by pinning versions, or by a GPU runner,
    // whose preflight needs the driver minimum. The dev and test stacks claim none.
    const pins = { cuda: raw.cuda, pytorch: raw.pytorch, python: raw.python };
    const pinned = (Object.keys(pins) as (keyof typeof pins)[]).filter((k) => pins[k] !== undefined);
    if (/^cu\d+$/.test(variant) || pinned.length > 0 || raw.runnerHost !== undefined) {
        try {
            out.cuda = resolveVariant(variant, pins, pinned.length > 0 ? pinned.map(key).join(", ") : key("variant"));
        } catch (e) {
            problems.push((e as Error).message + (raw.variant === undefined ? ` (${key("variant")} defaults to the stack name)` : ""));
        }
    }

    const cachixKeys = ["cachixCache", "cachixApiUrl"] as const;
    const storeKeys = ["cacheUrl", "cachePublicKey"] as const;
    if (raw.cache === undefined) {
        for (const k of [...cachixKeys, ...storeKeys]) if (raw[k] !== undefined) problems.push(`${key(k)} is set but ${key("cache")} is not (cachix or nix-store)`);
        if (raw.hasCachixAuthToken) problems.push(`${key("cachixAuthToken")} is set but ${key("cache")} is not (cachix or nix-store)`);
        if (raw.hasCacheSigningKey) problems.push(`${key("cacheSigningKey")} is set but ${key("cache")} is not (cachix or nix-store)`);
    } else if (raw.cache === "cachix") {
        for (const k of storeKeys) if (raw[k] !== undefined) problems.push(`${key(k)} is only used with ${key("cache")}: nix-store`);
        const apiUrl = raw.cachixApiUrl ?? DEFAULT_CACHIX_API_URL;
        if (!HTTP_URL.test(apiUrl)) problems.push(`${key("cachixApiUrl")}: ${JSON.stringify(apiUrl)} is not an http(s) URL without query (e.g. "${DEFAULT_CACHIX_API_URL}")`);
        if (raw.cachixCache === undefined || raw.cachixCache === "") problems.push(`${key("cachixCache")} is required when ${key("cache")} is cachix (the name of an existing cache; Cachix has no API to create one)`);
        else if (!CACHIX_NAME.test(raw.cachixCache)) problems.push(`${key("cachixCache")}: ${JSON.stringify(raw.cachixCache)} is not a Cachix cache name (lowercase letters, digits and '-')`);
        if (!raw.hasCachixAuthToken) problems.push(`${key("cachixAuthToken")} is required when ${key("cache")} is cachix ${secretHint("cachixAuthToken")}`);
        if (raw.cachixCache && CACHIX_NAME.test(raw.cachixCache) && HTTP_URL.test(apiUrl)) out.cache = { kind: "cachix", name: raw.cachixCache, apiUrl: apiUrl.replace(/\/+$/, "") };
    } else if (raw.cache === "nix-store") {
        for (const k of cachixKeys) if (raw[k] !== undefined) problems.push(`${key(k)} is only used with ${key("cache")}: cachix`);
        if (raw.hasCachixAuthToken) problems.push(`${key("cachixAuthToken")} is only used with ${key("cache")}: cachix`);
        let ok = true;
        if (raw.cacheUrl === undefined || raw.cacheUrl === "") { ok = false; problems.push(`${key("cacheUrl")} is required when ${key("cache")} is nix-store (e.g. "file:///var/cache/nix" or "s3://bucket")`); }
        else if (!STORE_URL.test(raw.cacheUrl)) { ok = false; problems.push(`${key("cacheUrl")}: ${JSON.stringify(raw.cacheUrl)} is not a Nix store URL (e.g. "file:///var/cache/nix", "s3://bucket", "ssh-ng://host")`); }
        if (raw.cachePublicKey !== undefined && !NIX_PUBLIC_KEY.test(raw.cachePublicKey)) { ok = false; problems.push(`${key("cachePublicKey")}: ${JSON.stringify(raw.cachePublicKey)} is not a Nix public key ("name:base64", as nix key convert-secret-to-public prints)`); }
        if (ok) out.cache = { kind: "nix-store", url: raw.cacheUrl!, ...(raw.cachePublicKey ? { publicKey: raw.cachePublicKey } : {}) };
    } else {
        problems.push(`${key("cache")}: ${JSON.stringify(raw.cache)} must be cachix or nix-store`);
    }

    if (raw.githubOwner !== undefined || raw.githubRepository !== undefined || raw.hasGithubToken) {
        const first = raw.githubOwner !== undefined ? "githubOwner" : raw.githubRepository !== undefined ? "githubRepository" : "githubToken";
        let ok = true;
        if (raw.githubOwner === undefined || raw.githubOwner === "") { ok = false; problems.push(`${key("githubOwner")} is required when ${key(first)} is set`); }
        else if (!GITHUB_OWNER.test(raw.githubOwner)) { ok = false; problems.push(`${key("githubOwner")}: ${JSON.stringify(raw.githubOwner)} is not a GitHub user or organization name`); }
        if (raw.githubRepository === undefined || raw.githubRepository === "") { ok = false; problems.push(`${key("githubRepository")} is required when ${key(first)} is set`); }
        else if (!GITHUB_REPO.test(raw.githubRepository) || raw.githubRepository.includes("/")) { ok = false; problems.push(`${key("githubRepository")}: ${JSON.stringify(raw.githubRepository)} is not a repository name (without the owner)`); }
        if (!raw.hasGithubToken) { ok = false; problems.push(`${key("githubToken")} is required when ${key(first)} is set ${secretHint("githubToken")}`); }
        const apiUrl = raw.githubApiUrl ?? DEFAULT_GITHUB_API_URL;
        if (!API_URL.test(apiUrl)) { ok = false; problems.push(`${key("githubApiUrl")}: ${JSON.stringify(apiUrl)} is not an http(s) URL without query (e.g. "${DEFAULT_GITHUB_API_URL}")`); }
        if (ok) out.github = { owner: raw.githubOwner!, repository: raw.githubRepository!, apiUrl: apiUrl.replace(/\/+$/, "") };
    } else if (raw.githubApiUrl !== undefined) {
        problems.push(`${key("githubApiUrl")} is set but ${key("githubOwner")} is not`);
    }

    const ephemeral = bool("runnerEphemeral");
    const allowPublicRepository = bool("allowPublicRepository");
    const sshAgent = bool("runnerSshAgent");
    let labels: string[] = [];
    if (raw.runnerLabels !== undefined) {
        if (!Array.isArray(raw.runnerLabels) || raw.runnerLabels.some((l) => typeof l !== "string" || !RUNNER_LABEL.test(l))) {
            problems.push(`${key("runnerLabels")}: must be a list of labels (letters, digits, '.', '_' or '-', at most 64 characters)`);
        } else {
            labels = [...new Set(raw.runnerLabels as string[])].filter((l) => !FIXED_LABELS.includes(l.toLowerCase()) && !/^cuda-/i.test(l));
            const reserved = (raw.runnerLabels as string[]).filter((l) => /^cuda-/i.test(l));
            if (reserved.length > 0) problems.push(`${key("runnerLabels")}: ${JSON.stringify(reserved[0])}: cuda-* labels come from ${key("variant")}, not from config`);
        }
    }
    if (raw.runnerHost !== undefined) {
        const m = SSH_TARGET.exec(raw.runnerHost);
        const port = m?.groups?.port === undefined ? 22 : Number(m.groups.port);
        if (!m || !SSH_USER.test(m.groups!.user) || port < 1 || port > 65535) {
            problems.push(`${key("runnerHost")}: ${JSON.stringify(raw.runnerHost)} is not user@host[:port] (e.g. "runner@gpu1.example.com" or "ci@10.0.0.5:2222")`);
        } else if (raw.githubOwner === undefined || raw.githubRepository === undefined) {
            problems.push(`${key("runnerHost")} needs ${key("githubOwner")} and ${key("githubRepository")}: the runner registers with that repository`);
        } else {
            const runner = validateRunnerAccess(raw, sshAgent, ephemeral, problems);
            if (runner) out.runner = { user: m.groups!.user, host: m.groups!.host.replace(/^\[|\]$/g, ""), port, labels, ephemeral, allowPublicRepository, sshAgent, ...runner };
        }
    } else {
        for (const k of RUNNER_ONLY_KEYS) if (raw[k] !== undefined) problems.push(`${key(k)} is set but ${key("runnerHost")} is not`);
        if (raw.hasRunnerSshKey) problems.push(`${key("runnerSshKey")} is set but ${key("runnerHost")} is not`);
        if (raw.hasRunnerJitToken) problems.push(`${key("runnerJitToken")} is set but ${key("runnerHost")} is not`);
    }

    // Checks run on the GPU runner (Docker, with the GPUs) when the stack has one; else here.
    const checksOn = raw.checksOn ?? (raw.runnerHost !== undefined || raw.checksDockerHost !== undefined ? "runner" : "local");
    if (raw.checksDockerHost !== undefined && !DOCKER_HOST.test(raw.checksDockerHost)) {
        problems.push(`${key("checksDockerHost")}: ${JSON.stringify(raw.checksDockerHost)} is not a Docker host (ssh://user@host[:port], unix:///var/run/docker.sock or tcp://host:port)`);
    } else if (checksOn === "runner") {
        const r = out.runner;
        const runnerDocker = r && `ssh://${r.user}@${r.host.includes(":") ? `[${r.host}]` : r.host}${r.port === 22 ? "" : `:${r.port}`}`;
        const dockerHost = raw.checksDockerHost ?? runnerDocker;
        // Docker over SSH authenticates and pins the host key exactly as the runner's steps do,
        // so it can only be the runner's own host.
        if (dockerHost?.startsWith("ssh://") && dockerHost !== runnerDocker) {
            if (raw.runnerHost === undefined || r) {
                problems.push(`${key("checksDockerHost")}: ${JSON.stringify(dockerHost)}: an ssh:// Docker host must be the runner (${runnerDocker ? JSON.stringify(runnerDocker) : `set ${key("runnerHost")}`}), whose SSH key and pinned host key it uses; use unix:///var/run/docker.sock when \`up\` runs on the runner`);
            }
        } else if (dockerHost) out.checkHost = { dockerHost };
        else if (raw.runnerHost === undefined) problems.push(`${key("checksOn")} is runner, but neither ${key("runnerHost")} nor ${key("checksDockerHost")} says where the GPU runner's Docker is`);
    } else if (checksOn === "local") {
        if (raw.checksDockerHost !== undefined) problems.push(`${key("checksDockerHost")} is only used with ${key("checksOn")}: runner`);
    } else {
        problems.push(`${key("checksOn")}: ${JSON.stringify(raw.checksOn)} must be local or runner`);
    }
    return out;
}

/** Keys that only mean something with `runnerHost`. */
const RUNNER_ONLY_KEYS = ["runnerLabels", "runnerEphemeral", "allowPublicRepository", "runnerHostKey", "runnerSshAgent", "runnerMinFreeDiskGb", "runnerReleaseUrl", "runnerReleaseSha256"] as const;

/**
 * How the runner is reached and installed: the pinned host key, the key or the agent (one of
 * them, said explicitly), the ephemeral mode's token, the preflight's disk minimum and the
 * release's source. Undefined when something is missing or malformed (a problem is pushed).
 */
function validateRunnerAccess(raw: RawConfig, sshAgent: boolean, ephemeral: boolean, problems: string[]): Pick<RunnerSettings, "hostKey" | "minFreeDiskGb" | "release"> | undefined {
    const key = (k: string) => `${NS}:${k}`;
    let ok = true;
    let hostKey = "";
    if (raw.runnerHostKey === undefined || raw.runnerHostKey === "") {
        ok = false;
        problems.push(`${key("runnerHostKey")} is required when ${key("runnerHost")} is set: the host's public key as \`ssh-keyscan -t ed25519 <host>\` prints it (SSH refuses any other host key)`);
    } else {
        const m = HOST_KEY.exec(raw.runnerHostKey.trim());
        if (!m) {
            ok = false;
            problems.push(`${key("runnerHostKey")}: ${JSON.stringify(raw.runnerHostKey)} is not an SSH public key ("ssh-ed25519 AAAA...", as ssh-keyscan prints it)`);
        } else hostKey = `${m.groups!.type} ${m.groups!.key}`;
    }
    if (sshAgent && raw.hasRunnerSshKey) {
        ok = false;
        problems.push(`${key("runnerSshAgent")} is true, but ${key("runnerSshKey")} is set too: use the key or the agent, not both`);
    } else if (!sshAgent && !raw.hasRunnerSshKey) {
        ok = false;
        problems.push(`${key("runnerSshKey")} is required when ${key("runnerHost")} is set (set it with: pulumi config set --secret ${key("runnerSshKey")} < key-file), unless ${key("runnerSshAgent")} is true`);
    }
    if (ephemeral && !raw.hasRunnerJitToken) {
        ok = false;
        problems.push(`${key("runnerJitToken")} is required when ${key("runnerEphemeral")} is true: the host's service mints a just-in-time configuration per job with it (set it with: pulumi config set --secret ${key("runnerJitToken")})`);
    } else if (!ephemeral && raw.hasRunnerJitToken) {
        ok = false;
        problems.push(`${key("runnerJitToken")} is only used with ${key("runnerEphemeral")}: true`);
    }
    let minFreeDiskGb = 100;
    if (raw.runnerMinFreeDiskGb !== undefined) {
        minFreeDiskGb = Number(raw.runnerMinFreeDiskGb);
        if (!/^\d+$/.test(raw.runnerMinFreeDiskGb.trim()) || !Number.isSafeInteger(minFreeDiskGb)) {
            ok = false;
            problems.push(`${key("runnerMinFreeDiskGb")}: ${JSON.stringify(raw.runnerMinFreeDiskGb)} must be a whole number of GB`);
        }
    }
    if (raw.runnerReleaseUrl !== undefined && !HTTP_URL.test(raw.runnerReleaseUrl)) {
        ok = false;
        problems.push(`${key("runnerReleaseUrl")}: ${JSON.stringify(raw.runnerReleaseUrl)} is not an http(s) URL (the tarball is <url>/v<version>/actions-runner-linux-x64-<version>.tar.gz)`);
    }
    if (raw.runnerReleaseSha256 !== undefined && !/^[0-9a-f]{64}$/.test(raw.runnerReleaseSha256)) {
        ok = false;
        problems.push(`${key("runnerReleaseSha256")}: must be 64 lowercase hex digits`);
    }
    if (!ok) return undefined;
    const release = {
        ...(raw.runnerReleaseUrl !== undefined ? { url: raw.runnerReleaseUrl.replace(/\/+$/, "") } : {}),
        ...(raw.runnerReleaseSha256 !== undefined ? { sha256: raw.runnerReleaseSha256 } : {}),
    };
    return { hostKey, minFreeDiskGb, release };
}

/** The versions the dev stack's checks expect (the megapak's own: CUDA 13.0, Python 3.14, PyTorch 2.10). */
/** The CUDA variant whose layers the flake exposes under the catalog's own attribute names. */
export const FLAKE_DEFAULT_VARIANT = "cu130";

export const DEFAULT_CHECK_CONTEXT: CheckContext = { cuda: "13.0", python: "3.14", torch: "2.10.0" };

function parseCheckOverrides(value: unknown, problems: string[]): Map<string, CheckOverride[]> {
    const k = `${NS}:checks`;
    const out = new Map<string, CheckOverride[]>();
    if (value === undefined) return out;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.push(`${k}: must be an object {"<layer id>": [{name, script?, gpu?, skip?}]}`);
        return out;
    }
    for (const [id, list] of Object.entries(value as Record<string, unknown>)) {
        if (!Array.isArray(list)) {
            problems.push(`${k}.${id}: must be a list of {name, script?, gpu?, skip?}`);
            continue;
        }
        const parsed: CheckOverride[] = [];
        list.forEach((o, i) => {
            const where = `${k}.${id}[${i}]`;
            if (typeof o !== "object" || o === null) return void problems.push(`${where}: must be an object`);
            const c = o as Record<string, unknown>;
            if (typeof c.name !== "string" || !/^[a-z0-9][a-z0-9-]{0,40}$/.test(c.name)) return void problems.push(`${where}: name must be lowercase letters, digits and '-'`);
            if (c.script !== undefined && (typeof c.script !== "string" || c.script.trim() === "")) return void problems.push(`${where}: script must be a non-empty string`);
            if (c.skip !== undefined && typeof c.skip !== "boolean") return void problems.push(`${where}: skip must be true or false`);
            if (c.gpu !== undefined && typeof c.gpu !== "boolean") return void problems.push(`${where}: gpu must be true or false`);
            parsed.push({ name: c.name, script: c.script as string | undefined, gpu: c.gpu as boolean | undefined, skip: c.skip as boolean | undefined });
        });
        out.set(id, parsed);
    }
    return out;
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
    if (ref.startsWith("path:") && !ref.startsWith("path:/")) return resolveAfterScheme("path:", ref, projectDir);
    return ref;
}

/** `<scheme><relative path>[?query]` with the path made absolute against the project directory. */
function resolveAfterScheme(scheme: string, ref: string, projectDir: string): string {
    const [p, query] = ref.slice(scheme.length).split(/(?=\?)/);
    return scheme + path.resolve(projectDir, p) + (query ?? "");
}

/** The directory of a local `path:` flake, if it is one. */
export function localFlakeDir(ref: string): string | undefined {
    return ref.startsWith("path:/") ? ref.slice("path:".length).split("?")[0] : undefined;
}

/** Reads the `layerstack:*` keys of the current stack and validates them. */
export function loadSettings(cfg = new pulumi.Config(NS), projectDir = process.cwd()): StackSettings {
    const password = cfg.getSecret("registryPassword");
    const secrets = {
        cachixAuthToken: cfg.getSecret("cachixAuthToken"),
        cacheSigningKey: cfg.getSecret("cacheSigningKey"),
        githubToken: cfg.getSecret("githubToken"),
        runnerSshKey: cfg.getSecret("runnerSshKey"),
        runnerJitToken: cfg.getSecret("runnerJitToken"),
    };
    const raw: RawConfig = {
        flake: cfg.get("flake"),
        layers: cfg.getObject<unknown>("layers"),
        registry: cfg.get("registry"),
        repository: cfg.get("repository"),
        system: cfg.get("system"),
        variant: cfg.get("variant"),
        buildTimeout: cfg.get("buildTimeout"),
        nixConfig: cfg.get("nixConfig"),
        registryUsername: cfg.get("registryUsername"),
        checks: cfg.getObject<unknown>("checks"),
        runChecks: cfg.get("runChecks"),
        hasRegistryPassword: password !== undefined,
        cuda: cfg.get("cuda"),
        pytorch: cfg.get("pytorch"),
        python: cfg.get("python"),
        promoteTags: cfg.get("promoteTags"),
        cache: cfg.get("cache"),
        cachixCache: cfg.get("cachixCache"),
        cachixApiUrl: cfg.get("cachixApiUrl"),
        cacheUrl: cfg.get("cacheUrl"),
        cachePublicKey: cfg.get("cachePublicKey"),
        githubOwner: cfg.get("githubOwner"),
        githubRepository: cfg.get("githubRepository"),
        githubApiUrl: cfg.get("githubApiUrl"),
        runnerHost: cfg.get("runnerHost"),
        runnerHostKey: cfg.get("runnerHostKey"),
        runnerSshAgent: cfg.get("runnerSshAgent"),
        runnerLabels: cfg.getObject<unknown>("runnerLabels"),
        runnerEphemeral: cfg.get("runnerEphemeral"),
        allowPublicRepository: cfg.get("allowPublicRepository"),
        runnerMinFreeDiskGb: cfg.get("runnerMinFreeDiskGb"),
        runnerReleaseUrl: cfg.get("runnerReleaseUrl"),
        runnerReleaseSha256: cfg.get("runnerReleaseSha256"),
        checksOn: cfg.get("checksOn"),
        checksDockerHost: cfg.get("checksDockerHost"),
        hasCachixAuthToken: secrets.cachixAuthToken !== undefined,
        hasCacheSigningKey: secrets.cacheSigningKey !== undefined,
        hasGithubToken: secrets.githubToken !== undefined,
        hasRunnerSshKey: secrets.runnerSshKey !== undefined,
        hasRunnerJitToken: secrets.runnerJitToken !== undefined,
        ...readBuildersConfig(cfg),
    };
    const { auth, cache, github, runner, builders, ...settings } = validateConfig(raw, { stack: pulumi.getStack(), projectDir });
    return {
        ...settings,
        registryAuth: auth && password ? { username: auth.username, password } : undefined,
        cache: cache?.kind === "cachix" ? { ...cache, authToken: secrets.cachixAuthToken!, ...(secrets.cacheSigningKey ? { signingKey: secrets.cacheSigningKey } : {}) }
            : cache ? { ...cache, ...(secrets.cacheSigningKey ? { signingKey: secrets.cacheSigningKey } : {}) } : undefined,
        github: github && { ...github, token: secrets.githubToken! },
        runner: runner && {
            ...runner,
            ...(secrets.runnerSshKey ? { sshKey: secrets.runnerSshKey } : {}),
            ...(secrets.runnerJitToken ? { jitToken: secrets.runnerJitToken } : {}),
        },
        builders: builders && { ...builders, sshKey: cfg.requireSecret("nixBuildersSshKey") },
    };
}
