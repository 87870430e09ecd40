/**
 * Defaults that more than one module needs, written once.
 */

/**
 * How long each kind of command may run before its own script stops it and every process it
 * started (lib/commands/bounded.ts), in seconds. The official command provider gives no such
 * guarantee (its timeout kills only the direct child), so every command carries its own.
 */
export const DEFAULT_TIMEOUTS = {
    /** A layer's Nix build; `layerstack:buildTimeout` overrides it. The megapak builds cold in 45–70 min. */
    build: 6 * 3600,
    /** A layer's push: the image's new blobs (GiBs for a CUDA layer) to the registry. */
    push: 2 * 3600,
    /** A layer's closure to the binary cache. */
    cachePush: 2 * 3600,
    /** Reading a Cachix cache's public info. */
    cacheInfo: 120,
    /** One smoke check inside a pushed image, on this machine. */
    check: 30 * 60,
    /** Moving a tag (a manifest copy within one registry). */
    promote: 15 * 60,
    /** Signing a layer and attesting its SBOM and provenance (cosign: a few small manifests and blobs), then verifying them. */
    sign: 15 * 60,
} as const;

/** Seconds between a command's TERM and its KILL, when it ran past its limit. */
export const KILL_GRACE_SECONDS = 30;

/** The Nix system whose `packages.<system>` a flake's layers are read from. */
export const DEFAULT_SYSTEM = "x86_64-linux";

/**
 * The variant that starts every tag (`<variant>-<drv hash>`) when none is given: the stack's
 * name, so two stacks never collide.
 */
export function defaultVariant(stack: string): string {
    return stack;
}

/** Where a Cachix cache's public info is read (`GET <url>/cache/<name>`). */
export const DEFAULT_CACHIX_API_URL = "https://app.cachix.org/api/v1";

/** GitHub's REST API (GitHub Enterprise Server serves it under `https://<host>/api/v3`). */
export const DEFAULT_GITHUB_API_URL = "https://api.github.com";

/** The labels every GPU runner has, before its `cuda-<version>` label and the extra ones. */
export const RUNNER_FIXED_LABELS: readonly string[] = ["self-hosted", "linux", "x64", "gpu"];

/** The labels GitHub gives every self-hosted Linux x64 runner itself (config.sh adds them). */
export const RUNNER_DEFAULT_LABELS: readonly string[] = ["self-hosted", "linux", "x64"];

/** Free disk, in GB, the GPU runner's preflight requires under the runner's directory. */
export const DEFAULT_RUNNER_MIN_FREE_DISK_GB = 100;

/** The SSH port of the GPU host. */
export const DEFAULT_SSH_PORT = 22;

/** An API URL or mirror without its trailing slashes, as every script appends paths to it. */
export function trimUrl(url: string): string {
    return url.replace(/\/+$/, "");
}

/**
 * The oldest Nix layerstack runs on: nixpkgs' own minimum (nixpkgs lib/minver.nix, 2.18 since
 * 2025), below which no flake on a current nixpkgs evaluates. Every Nix command and output the
 * project reads is read as Nix 2.18 and newer print it (lib/nixCli.ts).
 */
export const NIX_MIN_VERSION = "2.18";
