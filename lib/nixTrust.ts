// Whether the Nix daemon uses the stack's binary cache. On a multi-user host, builds run in
// nix-daemon, which takes a substituter from a client that is not in its `trusted-users` only
// when its own nix.conf lists it in `trusted-substituters` (or `substituters`), and never takes
// that client's `trusted-public-keys` (NixOS/nix 2.26.3 src/libstore/daemon.cc,
// ClientSettings::apply: "ignoring untrusted substituter '%s', you are not a trusted user."
// and "ignoring the client-specified setting '%s', because it is a restricted setting and you
// are not a trusted user"). Nix goes on without the cache and builds what it would have
// fetched, saying so only in that warning. One `nix store info --json` with the stack's
// settings shows both: the daemon's warnings reach the client on stderr, and the answer's
// `trusted` is 0 for such a client (src/nix/store-info.cc; test/nix-recorded/ holds both).
import { spawnSync } from "child_process";
import { joinNixConfigText } from "./nix";
import { requireNix, storeInfoArgs } from "./nixCli";

/** The substituters the daemon said it ignores, in the order it said so. */
export function ignoredSubstituters(stderr: string): string[] {
    return [...stderr.matchAll(/^warning: ignoring untrusted substituter '([^']+)', you are not a trusted user\.$/gm)].map((m) => m[1]);
}

/**
 * The warning for a cache the daemon ignores, naming it and the daemon settings that let this
 * user's builds use it; undefined when the daemon uses it.
 */
export function cacheTrustProblem(substituter: string, publicKeys: readonly string[], stderr: string): string | undefined {
    const ignored = ignoredSubstituters(stderr);
    if (!ignored.some((s) => s === substituter || s === `${substituter}/` || `${s}/` === substituter)) return undefined;
    return [
        `binary cache ${substituter}: the Nix daemon ignores it, because this user is not in its trusted-users, so nothing is substituted from it and every path it holds is built from source.`,
        "Let the daemon trust the cache: add to its nix.conf (/etc/nix/nix.conf on most hosts), then restart nix-daemon:",
        `  extra-trusted-substituters = ${substituter}`,
        ...(publicKeys.length ? [`  extra-trusted-public-keys = ${publicKeys.join(" ")}`] : []),
        "(or add this user to trusted-users). README: \"Going to production\", the GPU host.",
    ].join("\n");
}

/** Asks the daemon, with the stack's settings and the cache's, whether it takes the cache (one `nix store info`). */
export function checkCacheTrust(substituter: string, publicKeys: readonly string[], nixConfig: string | undefined): string | undefined {
    const env: NodeJS.ProcessEnv = { ...process.env, NIX_CONFIG: joinNixConfigText(nixConfig, process.env.NIX_CONFIG) };
    const r = spawnSync("nix", ["--extra-experimental-features", "nix-command", ...storeInfoArgs(requireNix(env))], { env, encoding: "utf8" });
    if (r.error || r.status !== 0) return undefined; // the builds say what is wrong with the store itself
    return cacheTrustProblem(substituter, publicKeys, r.stderr ?? "");
}
