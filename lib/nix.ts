import { execFileSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import { LayerstackError } from "./errors";
import { FLAKE_ATTR } from "./graph";

/** What Nix knows about a layer's attribute after evaluation, before any build. */
export interface Evaluated {
    readonly drvPath: string;
    readonly outPath: string;
}

/**
 * The Nix expression applied to the flake's package set: for each requested attribute,
 * its drvPath and outPath, or null when the flake has no such attribute. Attribute names
 * are checked against FLAKE_ATTR first, so they can be written as Nix string literals.
 * (The keys are not drvPath/outPath: Nix prints any set with an `outPath` as that string.)
 */
export function evalExpression(attrs: readonly string[]): string {
    for (const a of attrs) if (!FLAKE_ATTR.test(a)) throw new LayerstackError(`invalid flake attribute ${JSON.stringify(a)}`);
    const list = attrs.map((a) => `"${a}"`).join(" ");
    return `ps: builtins.listToAttrs (map (n: { name = n; value = if builtins.hasAttr n ps then { drv = ps.\${n}.drvPath; out = ps.\${n}.outPath; } else null; }) [ ${list} ])`;
}

/** The installable whose attributes are evaluated: `<flake>#packages.<system>`. */
export function packageSet(flake: string, system: string): string {
    return `${flake}#packages.${system}`;
}

/**
 * Evaluates the drvPaths of all requested attributes in ONE `nix eval`. Evaluating a real
 * flake (nixpkgs with CUDA) takes seconds; one evaluation per layer would take a minute.
 * Writes .drv files to the store (Nix's own instantiation) but builds nothing.
 */
export function evaluateAttrs(flake: string, system: string, attrs: readonly string[], nixConfig?: string): Map<string, Evaluated | null> {
    const installable = packageSet(flake, system);
    const env = nixConfig === undefined ? process.env : { ...process.env, NIX_CONFIG: joinNixConfigText(nixConfig, process.env.NIX_CONFIG) };
    let stdout: string;
    try {
        stdout = execFileSync("nix", ["--extra-experimental-features", "nix-command flakes", "eval", "--json", installable, "--apply", evalExpression(attrs)], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            maxBuffer: 64 * 1024 * 1024,
            env,
        });
    } catch (e) {
        const err = e as NodeJS.ErrnoException & { stderr?: string; status?: number };
        if (err.code === "ENOENT") {
            throw new LayerstackError("nix is not on PATH: install Nix (https://nixos.org/download), or for the dev stack run scripts/toolchain.sh");
        }
        const tail = (err.stderr ?? "").trim().split("\n").slice(-15).join("\n");
        throw new LayerstackError(`layerstack:flake: evaluating ${installable} failed (nix exited ${err.status}):\n${tail}`);
    }
    const parsed = JSON.parse(stdout) as Record<string, { drv: string; out: string } | null>;
    return new Map(attrs.map((a) => {
        const v = parsed[a];
        return [a, v ? { drvPath: v.drv, outPath: v.out } : null];
    }));
}

/**
 * nix.conf texts in order, later lines winning, as NIX_CONFIG takes them: the stack's
 * `layerstack:nixConfig` first, the caller's own NIX_CONFIG last (the same order as
 * lib/commands/cache.ts WITH_NIX_CONFIG gives the commands).
 */
export function joinNixConfigText(...parts: (string | undefined)[]): string {
    return parts.filter((p): p is string => p !== undefined && p !== "").join("\n");
}

/** Like joinNixConfigText, for Outputs; undefined when there is no part at all. */
export function joinNixConfig(...parts: (pulumi.Input<string> | undefined)[]): pulumi.Output<string> | undefined {
    const present = parts.filter((p): p is pulumi.Input<string> => p !== undefined);
    return present.length ? pulumi.all(present).apply((ps) => joinNixConfigText(...ps)) : undefined;
}
