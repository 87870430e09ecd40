/**
 * Binary cache commands: reading a Cachix cache's public info and pushing a layer's
 * closure, to Cachix or to any Nix store URL. Values arrive as environment variables;
 * secrets (the Cachix token, a signing key) only as secret environment, never argv or text.
 */

/**
 * Reads a Cachix cache's public info. Inputs: LAYERSTACK_CACHIX_API_URL (e.g.
 * https://app.cachix.org/api/v1), LAYERSTACK_CACHIX_CACHE. Prints the JSON answer.
 * Read-only and unauthenticated: the auth token is never sent here.
 */
export const CACHIX_INFO_SCRIPT = `set -eu
exec curl --fail --silent --show-error --location --retry 2 --max-time 60 \\
  -H 'Accept: application/json' "$LAYERSTACK_CACHIX_API_URL/cache/$LAYERSTACK_CACHIX_CACHE"`;

/** What layerstack needs of `GET /api/v1/cache/<name>`. */
export interface CachixInfo {
    /** The substituter URL, e.g. `https://megapak.cachix.org`. */
    readonly uri: string;
    /** `name:base64` keys to trust. */
    readonly publicSigningKeys: string[];
}

/** Parses the Cachix API's cache info, refusing an answer without a URI or a key. */
export function parseCachixInfo(stdout: string, cache: string): CachixInfo {
    let v: { uri?: unknown; publicSigningKeys?: unknown };
    try {
        v = JSON.parse(stdout);
    } catch {
        throw new Error(`Cachix cache ${cache}: the API did not answer JSON: ${stdout.slice(0, 200)}`);
    }
    const keys = v.publicSigningKeys;
    if (typeof v.uri !== "string" || !/^https?:\/\//.test(v.uri) || !Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === "string")) {
        throw new Error(`Cachix cache ${cache}: the API answer has no uri or publicSigningKeys`);
    }
    return { uri: v.uri, publicSigningKeys: keys as string[] };
}

/**
 * Pushes a built layer's closure to Cachix. Inputs: LAYERSTACK_DRV_PATH,
 * LAYERSTACK_CACHIX_CACHE, LAYERSTACK_LAYER (for messages), CACHIX_AUTH_TOKEN (secret; cachix reads it from the environment).
 * A failed push fails this command only: nothing is recorded, and the next `up` retries.
 */
export const CACHIX_PUSH_SCRIPT = `set -eu
out=$(nix-store --realise --no-gc-warning "$LAYERSTACK_DRV_PATH")
if ! cachix push "$LAYERSTACK_CACHIX_CACHE" "$out" >&2; then
  echo "binary cache: pushing layer \${LAYERSTACK_LAYER:-?} ($out) to Cachix cache $LAYERSTACK_CACHIX_CACHE failed (is Cachix reachable, is the token valid?); nothing was recorded, run pulumi up again" >&2
  exit 1
fi
echo "$out"`;

/**
 * Pushes a built layer's closure to any Nix store URL with \`nix copy --to\`. Inputs:
 * LAYERSTACK_DRV_PATH, LAYERSTACK_CACHE_URL, LAYERSTACK_LAYER (for messages), optional LAYERSTACK_CACHE_SIGNING_KEY (secret):
 * written to a private file whose path, not the key, goes into the store URL, so the
 * cache's paths are signed and substitutable with the matching public key.
 */
export const NIX_COPY_PUSH_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$(nix-store --realise --no-gc-warning "$LAYERSTACK_DRV_PATH")
url=$LAYERSTACK_CACHE_URL
if [ -n "\${LAYERSTACK_CACHE_SIGNING_KEY:-}" ]; then
  (umask 077 && printf '%s' "$LAYERSTACK_CACHE_SIGNING_KEY" > "$tmp/signing-key")
  case "$url" in *\\?*) url="$url&secret-key=$tmp/signing-key" ;; *) url="$url?secret-key=$tmp/signing-key" ;; esac
fi
unset LAYERSTACK_CACHE_SIGNING_KEY
if ! nix --extra-experimental-features nix-command copy --to "$url" "$out" >&2; then
  echo "binary cache: pushing layer \${LAYERSTACK_LAYER:-?} ($out) to cache $LAYERSTACK_CACHE_URL failed (is the cache reachable and writable?); nothing was recorded, run pulumi up again" >&2
  exit 1
fi
echo "$out"`;


/**
 * Runs a script with the binary cache's Nix settings (LAYERSTACK_NIX_CONFIG, e.g.
 * `extra-substituters = ...` / `extra-trusted-public-keys = ...` lines) appended to the
 * caller's NIX_CONFIG, so the user's own settings (scripts/env.sh's offline ones) still
 * apply and the cache is only added. Used for a layer's build and push when a cache is set.
 */
export const WITH_CACHE_NIX_CONFIG = `if [ -n "\${LAYERSTACK_NIX_CONFIG:-}" ]; then
  NIX_CONFIG="\${NIX_CONFIG:+$NIX_CONFIG
}$LAYERSTACK_NIX_CONFIG"
  export NIX_CONFIG
fi
unset LAYERSTACK_NIX_CONFIG`;

/** `script`, run with the binary cache's settings added to NIX_CONFIG (see WITH_CACHE_NIX_CONFIG). */
export function withCacheNixConfig(script: string): string {
    return `${WITH_CACHE_NIX_CONFIG}\n${script}`;
}
