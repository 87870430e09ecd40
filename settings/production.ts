/**
 * The keys of the production stacks: the CUDA matrix, tag promotion, the binary cache, the
 * GitHub repository, the GPU runner and where the checks run. Every one is optional, so a dev
 * stack that sets none of them is untouched.
 */
import { DEFAULT_CACHIX_API_URL, DEFAULT_GITHUB_API_URL, DEFAULT_RUNNER_MIN_FREE_DISK_GB, DEFAULT_SSH_PORT, RUNNER_FIXED_LABELS, trimUrl } from "../lib/defaults";
import { NOT_A_HOST_KEY, SSH_TARGET, hostKeyLine } from "../lib/hosts";
import { CudaVariant, resolveVariant } from "../lib/variants";
import { flag, wholeNumber } from "./image";
import { RawConfig, key } from "./raw";

/** A binary cache, validated: the component's args without the secrets (settings/args.ts adds them). */
export type CacheConfig = { readonly kind: "cachix"; readonly name: string; readonly apiUrl: string } | { readonly kind: "nix-store"; readonly url: string; readonly publicKey?: string };

/** The GitHub repository, validated (its token is added by settings/args.ts). */
export interface GithubConfig {
    readonly owner: string;
    readonly repository: string;
    /** GitHub's REST API, without a trailing slash. @default DEFAULT_GITHUB_API_URL */
    readonly apiUrl: string;
}

/** The GPU runner, validated (its key and JIT token are added by settings/args.ts). */
export interface RunnerConfig {
    readonly user: string;
    readonly host: string;
    /** @default DEFAULT_SSH_PORT (22) */
    readonly port: number;
    /** The host's public key, `<type> <base64>`: the only host key SSH accepts. */
    readonly hostKey: string;
    /** Labels beyond the fixed ones and cuda-<version>. @default [] */
    readonly labels: string[];
    /** @default false */
    readonly ephemeral: boolean;
    /** @default false */
    readonly allowPublicRepository: boolean;
    /** Authenticate with the SSH agent instead of `runnerSshKey`. @default false */
    readonly sshAgent: boolean;
    /** @default DEFAULT_RUNNER_MIN_FREE_DISK_GB (100) */
    readonly minFreeDiskGb: number;
    /** A mirror of the pinned release and its sha256. @default GitHub's releases, RUNNER_SHA256 */
    readonly release: { readonly url?: string; readonly sha256?: string };
}

/** The production keys, validated. */
export interface ProductionConfig {
    cuda?: CudaVariant;
    promoteTags: boolean;
    cache?: CacheConfig;
    github?: GithubConfig;
    runner?: RunnerConfig;
    /** Set when the checks run in Docker on the GPU runner (checksOn: runner). @default none: on this machine */
    checkHost?: { dockerHost: string };
}

const CACHIX_NAME = /^[a-z0-9][a-z0-9-]{0,62}$/;
const DOCKER_HOST = /^(ssh:\/\/[^\s/"'`$\\]+|tcp:\/\/[^\s/"'`$\\]+|unix:\/\/\/[^\s"'`$\\]+)$/;
const STORE_URL = /^[a-z][a-z0-9+-]*:\/\/[^\s"'`$\\]+$/;
const HTTP_URL = /^https?:\/\/[^\s"'`$\\?#]+$/;
/** An API URL also goes into a systemd unit (ephemeral mode), where '%' starts a specifier. */
const API_URL = /^https?:\/\/[^\s"'`$\\?#%]+$/;
const NIX_PUBLIC_KEY = /^[A-Za-z0-9._-]+(-\d+)?:[A-Za-z0-9+/]{43}=$/;
const GITHUB_OWNER = /^[A-Za-z0-9](-?[A-Za-z0-9]){0,38}$/;
const GITHUB_REPO = /^[A-Za-z0-9._-]{1,100}$/;
const SSH_USER = /^[a-z_][a-z0-9_.-]{0,31}$/i;
const RUNNER_LABEL = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

export function validateProduction(raw: RawConfig, variant: string, problems: string[]): ProductionConfig {
    const bool = (k: "promoteTags" | "runnerEphemeral" | "allowPublicRepository" | "runnerSshAgent"): boolean => flag(raw, k, false, problems);
    const secretHint = (k: string) => `(set it with: pulumi config set --secret ${key(k)})`;
    const out: ProductionConfig = { promoteTags: bool("promoteTags") };

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
        if (raw.cachixCache && CACHIX_NAME.test(raw.cachixCache) && HTTP_URL.test(apiUrl)) out.cache = { kind: "cachix", name: raw.cachixCache, apiUrl: trimUrl(apiUrl) };
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
        if (ok) out.github = { owner: raw.githubOwner!, repository: raw.githubRepository!, apiUrl: trimUrl(apiUrl) };
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
            labels = [...new Set(raw.runnerLabels as string[])].filter((l) => !RUNNER_FIXED_LABELS.includes(l.toLowerCase()) && !/^cuda-/i.test(l));
            const reserved = (raw.runnerLabels as string[]).filter((l) => /^cuda-/i.test(l));
            if (reserved.length > 0) problems.push(`${key("runnerLabels")}: ${JSON.stringify(reserved[0])}: cuda-* labels come from ${key("variant")}, not from config`);
        }
    }
    if (raw.runnerHost !== undefined) {
        const m = SSH_TARGET.exec(raw.runnerHost);
        const port = m?.groups?.port === undefined ? DEFAULT_SSH_PORT : Number(m.groups.port);
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
        const runnerDocker = r && `ssh://${r.user}@${r.host.includes(":") ? `[${r.host}]` : r.host}${r.port === DEFAULT_SSH_PORT ? "" : `:${r.port}`}`;
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
function validateRunnerAccess(raw: RawConfig, sshAgent: boolean, ephemeral: boolean, problems: string[]): Pick<RunnerConfig, "hostKey" | "minFreeDiskGb" | "release"> | undefined {
    let ok = true;
    let hostKey = "";
    if (raw.runnerHostKey === undefined || raw.runnerHostKey === "") {
        ok = false;
        problems.push(`${key("runnerHostKey")} is required when ${key("runnerHost")} is set: the host's public key as \`ssh-keyscan -t ed25519 <host>\` prints it (SSH refuses any other host key)`);
    } else {
        const line = hostKeyLine(raw.runnerHostKey);
        if (line === undefined) {
            ok = false;
            problems.push(`${key("runnerHostKey")}: ${JSON.stringify(raw.runnerHostKey)} ${NOT_A_HOST_KEY}`);
        } else hostKey = line;
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
    const before = problems.length;
    const minFreeDiskGb = wholeNumber(raw.runnerMinFreeDiskGb, 0, () => `${key("runnerMinFreeDiskGb")}: ${JSON.stringify(raw.runnerMinFreeDiskGb)} must be a whole number of GB`, problems)
        ?? DEFAULT_RUNNER_MIN_FREE_DISK_GB;
    if (problems.length > before) ok = false;
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
        ...(raw.runnerReleaseUrl !== undefined ? { url: trimUrl(raw.runnerReleaseUrl) } : {}),
        ...(raw.runnerReleaseSha256 !== undefined ? { sha256: raw.runnerReleaseSha256 } : {}),
    };
    return { hostKey, minFreeDiskGb, release };
}

