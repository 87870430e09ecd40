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
    /** One step on the GPU host over SSH, or one GitHub API call. */
    runner: 30 * 60,
} as const;

/** Seconds between a command's TERM and its KILL, when it ran past its limit. */
export const KILL_GRACE_SECONDS = 30;
