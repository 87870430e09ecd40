/**
 * Binary cache commands: reading a Cachix cache's public info and pushing a layer's
 * closure, to Cachix or to any Nix store URL. Values arrive as environment variables;
 * secrets (the Cachix token, a signing key) only as secret environment, never argv or text.
 */

import * as pulumi from "@pulumi/pulumi";
import { DEFAULT_TIMEOUTS } from "../defaults";
import { privateTempDir, scriptEnv } from "./bounded";
import { ScriptEnv, layerEnv, nixConfigEnv } from "./env";
import { shellQuote } from "../shell";

/**
 * Reads a Cachix cache's info (its substituter URL and public signing keys). Inputs:
 * LAYERSTACK_CACHIX_API_URL (e.g. https://app.cachix.org/api/v1), LAYERSTACK_CACHIX_CACHE,
 * CACHIX_AUTH_TOKEN (secret, optional). Prints the JSON answer.
 * A private cache answers 401 without a token, so the token is sent when there is one, as
 * cachix's own `cachix use` does (cachix/cachix, Cachix.Client.Command.Cache.use: getCache with
 * the configured auth token, a servant-auth bearer token). It goes to curl in a private
 * header file (`-H @file`), never in argv.
 */
export const CACHIX_INFO_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
: > "$tmp/headers"
if [ -n "\${CACHIX_AUTH_TOKEN:-}" ]; then
  (umask 077 && printf 'Authorization: Bearer %s\\n' "$CACHIX_AUTH_TOKEN" > "$tmp/headers")
fi
unset CACHIX_AUTH_TOKEN
status=0
curl --fail --silent --show-error --location --retry 2 --max-time 60 -H @"$tmp/headers" \\
  -H 'Accept: application/json' "$LAYERSTACK_CACHIX_API_URL/cache/$LAYERSTACK_CACHIX_CACHE" || status=$?
if [ "$status" -ne 0 ]; then
  echo "binary cache: reading Cachix cache $LAYERSTACK_CACHIX_CACHE from $LAYERSTACK_CACHIX_API_URL failed (curl exit $status): does the cache exist, and for a private cache, is layerstack:cachixAuthToken valid for it?" >&2
  exit "$status"
fi`;

/** What layerstack needs of `GET /api/v1/cache/<name>`. */
export interface CachixInfo {
    /** The substituter URL, e.g. `https://megapak.cachix.org`. */
    readonly uri: string;
    /** `name:base64` keys to trust. */
    readonly publicSigningKeys: string[];
    /** Whether anyone may read it; false for a private cache, which needs the token (a netrc). @default unknown */
    readonly isPublic?: boolean;
}

/** Parses the Cachix API's cache info, refusing an answer without a URI or a key. */
export function parseCachixInfo(stdout: string, cache: string): CachixInfo {
    let v: { uri?: unknown; publicSigningKeys?: unknown; isPublic?: unknown };
    try {
        v = JSON.parse(stdout);
    } catch {
        throw new Error(`Cachix cache ${cache}: the API did not answer JSON: ${stdout.slice(0, 200)}`);
    }
    const keys = v.publicSigningKeys;
    if (typeof v.uri !== "string" || !/^https?:\/\//.test(v.uri) || !Array.isArray(keys) || keys.length === 0 || !keys.every((k) => typeof k === "string")) {
        throw new Error(`Cachix cache ${cache}: the API answer has no uri or publicSigningKeys`);
    }
    return { uri: v.uri, publicSigningKeys: keys as string[], ...(typeof v.isPublic === "boolean" ? { isPublic: v.isPublic } : {}) };
}

/**
 * Pushes a built layer's closure to Cachix with the \`cachix\` CLI (in CI, the one
 * cachix/cachix-action installs; elsewhere \`nix profile install nixpkgs#cachix\`). Inputs:
 * LAYERSTACK_DRV_PATH, LAYERSTACK_CACHIX_CACHE, LAYERSTACK_LAYER (for messages),
 * CACHIX_AUTH_TOKEN (secret) and, for a cache with a self-generated signing key,
 * CACHIX_SIGNING_KEY (secret): cachix reads both from its environment
 * (cachix/docs.cachix.org, source/getting-started.rst), never from argv.
 * A failed push fails this command only: nothing is recorded, and the next \`up\` retries.
 */
export const CACHIX_PUSH_SCRIPT = `set -eu
if ! command -v cachix >/dev/null 2>&1; then
  echo "binary cache: the cachix CLI is not on PATH, so layer \${LAYERSTACK_LAYER:-?} cannot be pushed to Cachix cache $LAYERSTACK_CACHIX_CACHE (CI: cachix/cachix-action installs it; elsewhere: nix profile install nixpkgs#cachix)" >&2
  exit 127
fi
[ -n "\${CACHIX_SIGNING_KEY:-}" ] || unset CACHIX_SIGNING_KEY
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
 * Runs a script with the stack's Nix settings (LAYERSTACK_NIX_CONFIG: \`layerstack:nixConfig\`,
 * then a binary cache's \`extra-substituters\` / \`extra-trusted-public-keys\`) put in front of
 * the caller's own NIX_CONFIG, which therefore still wins. The system's nix.conf stays as it
 * is: a production stack adds only \`extra-\` settings, and only the dev stack's
 * \`layerstack:nixConfig\` turns the machine offline. Used by every command that runs Nix.
 * LAYERSTACK_NIX_ACCESS_TOKENS (secret, \`layerstack:nixAccessTokens\`) becomes one more line,
 * \`extra-access-tokens = ...\`, in the environment only: never in argv or the command's text.
 */
export const WITH_NIX_CONFIG = `if [ -n "\${LAYERSTACK_NIX_CONFIG:-}" ]; then
  NIX_CONFIG="$LAYERSTACK_NIX_CONFIG\${NIX_CONFIG:+
$NIX_CONFIG}"
  export NIX_CONFIG
fi
if [ -n "\${LAYERSTACK_NIX_ACCESS_TOKENS:-}" ]; then
  NIX_CONFIG="\${NIX_CONFIG:+$NIX_CONFIG
}extra-access-tokens = $LAYERSTACK_NIX_ACCESS_TOKENS"
  export NIX_CONFIG
fi
unset LAYERSTACK_NIX_CONFIG LAYERSTACK_NIX_ACCESS_TOKENS`;

/** \`script\`, run with the stack's Nix settings (see WITH_NIX_CONFIG). */
export function withNixConfig(script: string): string {
    return `${WITH_NIX_CONFIG}\n${script}`;
}

/**
 * Runs a Nix command with the netrc a private binary cache needs (LAYERSTACK_NIX_NETRC, secret:
 * `machine <host> password <token>` lines). Nix sends no credentials of its own to a substituter:
 * it hands curl its \`netrc-file\` (NixOS/nix src/libstore/filetransfer.cc, CURLOPT_NETRC_FILE), and
 * only \`cachix use\` writes one for a private Cachix cache (cachix/cachix
 * cachix/src/Cachix/Client/NetRc.hs: one \`machine\` per private cache, the auth token as its
 * password). Without it the cache answers 401 and Nix builds everything, warning only.
 * The netrc goes to a file in a private directory (mktemp -d, umask 077) that a trap removes when
 * the command ends, also on TERM/INT/HUP; \`netrc-file = <file>\` is added to the stack's Nix
 * settings (LAYERSTACK_NIX_CONFIG, which WITH_NIX_CONFIG puts first). A Nix daemon applies a
 * client's netrc-file only for a trusted user; for any other user the daemon's own netrc must
 * hold the cache (README: "Setting up the GPU host"). The wrapped script runs as a child, so the
 * trap runs after Nix.
 */
export const WITH_NETRC = `set -eu
${privateTempDir("netrc_dir")}
(umask 077 && printf '%s\\n' "$LAYERSTACK_NIX_NETRC" > "$netrc_dir/netrc")
unset LAYERSTACK_NIX_NETRC
LAYERSTACK_NIX_CONFIG="\${LAYERSTACK_NIX_CONFIG:+$LAYERSTACK_NIX_CONFIG
}netrc-file = $netrc_dir/netrc"
export LAYERSTACK_NIX_CONFIG`;

/** \`script\` (which runs Nix through withNixConfig) with a private cache's netrc; see WITH_NETRC. */
export function withNetrc(script: string): string {
    return `${WITH_NETRC}\n/bin/sh -c ${shellQuote(script)}`;
}

/** The netrc a private cache at \`substituter\` needs: its host, the token as password (cachix's NetRc.hs). */
export function cacheNetrc(substituter: string, token: string): string {
    // A netrc machine is a host name: curl matches it without the port.
    const host = /^https?:\/\//.test(substituter) ? new URL(substituter).hostname : "";
    if (!/^[A-Za-z0-9.-]+$/.test(host) || token === "" || /\s/.test(token)) throw new Error(`binary cache: cannot write a netrc for ${substituter}`);
    return `machine ${host} password ${token}`;
}

/** WITH_NETRC's input, when the stack has a private cache's netrc (secret). */
export function netrcEnv(netrc: pulumi.Input<string> | undefined): ScriptEnv {
    return netrc !== undefined ? { LAYERSTACK_NIX_NETRC: pulumi.secret(netrc) } : {};
}

/** The Cachix info read's environment (CACHIX_INFO_SCRIPT under DEFAULT_TIMEOUTS.cacheInfo); the token secret. */
export function cachixInfoEnv(c: { readonly apiUrl: string; readonly cache: string; readonly authToken: pulumi.Input<string> }): ScriptEnv {
    return {
        ...scriptEnv(CACHIX_INFO_SCRIPT, DEFAULT_TIMEOUTS.cacheInfo),
        LAYERSTACK_CACHIX_API_URL: c.apiUrl,
        LAYERSTACK_CACHIX_CACHE: c.cache,
        CACHIX_AUTH_TOKEN: pulumi.secret(c.authToken),
    };
}

/** A closure push: the layer, its derivation and the stack's Nix settings. */
interface ClosurePush {
    readonly id: string;
    readonly drvPath: string;
    /** @default none */
    readonly nixConfig?: pulumi.Input<string>;
    /** Must be a secret. @default none */
    readonly signingKey?: pulumi.Input<string>;
}

/** A push to Cachix (CACHIX_PUSH_SCRIPT under DEFAULT_TIMEOUTS.cachePush); token and signing key secret. */
export function cachixPushEnv(p: ClosurePush & { readonly cache: string; readonly authToken: pulumi.Input<string>; readonly netrc?: pulumi.Input<string> }): ScriptEnv {
    const script = withNixConfig(CACHIX_PUSH_SCRIPT);
    return {
        ...scriptEnv(p.netrc !== undefined ? withNetrc(script) : script, DEFAULT_TIMEOUTS.cachePush),
        ...netrcEnv(p.netrc),
        ...layerEnv(p),
        ...nixConfigEnv(p.nixConfig),
        LAYERSTACK_CACHIX_CACHE: p.cache,
        CACHIX_AUTH_TOKEN: pulumi.secret(p.authToken),
        ...(p.signingKey !== undefined ? { CACHIX_SIGNING_KEY: pulumi.secret(p.signingKey) } : {}),
    };
}

/** A push to a Nix store URL (NIX_COPY_PUSH_SCRIPT under DEFAULT_TIMEOUTS.cachePush); the signing key secret. */
export function nixCopyPushEnv(p: ClosurePush & { readonly url: string }): ScriptEnv {
    return {
        ...scriptEnv(withNixConfig(NIX_COPY_PUSH_SCRIPT), DEFAULT_TIMEOUTS.cachePush),
        ...layerEnv(p),
        ...nixConfigEnv(p.nixConfig),
        LAYERSTACK_CACHE_URL: p.url,
        ...(p.signingKey !== undefined ? { LAYERSTACK_CACHE_SIGNING_KEY: pulumi.secret(p.signingKey) } : {}),
    };
}
