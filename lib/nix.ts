import { execFileSync } from "child_process";
import { LayerstackError } from "./errors";
import { FLAKE_ATTR } from "./graph";

/** What Nix knows about a layer's attribute after evaluation, before any build. */
export interface Evaluated {
    readonly drvPath: string;
    readonly outPath: string;
    /**
     * The attribute's `copyTo` passthru, when it has one (nix2container images): the program
     * that publishes the image, found in the same single evaluation. @default none
     */
    readonly copyTo?: CopyTo;
}

/** A `copyTo` program: its derivation and, when declared, `meta.mainProgram`. */
export interface CopyTo {
    readonly drvPath: string;
    readonly mainProgram?: string;
}

/**
 * The Nix expression applied to the flake's package set: for each requested attribute,
 * its drvPath and outPath, or null when the flake has no such attribute. Attribute names
 * are checked against FLAKE_ATTR first, so they can be written as Nix string literals.
 * (The keys are not drvPath/outPath: Nix prints any set with an `outPath` as that string.)
 * An attribute with a `copyTo` passthru (nix2container's buildImage: nlewo/nix2container
 * default.nix, `passthru.copyTo = copyTo image`) also gives copyTo's drvPath and
 * meta.mainProgram, in this same evaluation.
 */
export function evalExpression(attrs: readonly string[]): string {
    for (const a of attrs) if (!FLAKE_ATTR.test(a)) throw new LayerstackError(`invalid flake attribute ${JSON.stringify(a)}`);
    const list = attrs.map((a) => `"${a}"`).join(" ");
    const one = "p: { drv = p.drvPath; out = p.outPath; } // (if p ? copyTo then { copyTo = p.copyTo.drvPath; copyToMain = p.copyTo.meta.mainProgram or null; } else { })";
    return `ps: builtins.listToAttrs (map (n: { name = n; value = if builtins.hasAttr n ps then (${one}) ps.\${n} else null; }) [ ${list} ])`;
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
export function evaluateAttrs(flake: string, system: string, attrs: readonly string[]): Map<string, Evaluated | null> {
    const installable = packageSet(flake, system);
    let stdout: string;
    try {
        stdout = execFileSync("nix", ["--extra-experimental-features", "nix-command flakes", "eval", "--json", installable, "--apply", evalExpression(attrs)], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            maxBuffer: 64 * 1024 * 1024,
        });
    } catch (e) {
        const err = e as NodeJS.ErrnoException & { stderr?: string; status?: number };
        if (err.code === "ENOENT") {
            throw new LayerstackError("nix is not on PATH: run scripts/toolchain.sh and `source scripts/env.sh`");
        }
        const tail = (err.stderr ?? "").trim().split("\n").slice(-15).join("\n");
        throw new LayerstackError(`layerstack:flake: evaluating ${installable} failed (nix exited ${err.status}):\n${tail}`);
    }
    return parseEvaluation(stdout, attrs);
}

/** Reads the JSON printed by `nix eval --apply evalExpression(attrs)`. */
export function parseEvaluation(stdout: string, attrs: readonly string[]): Map<string, Evaluated | null> {
    const parsed = JSON.parse(stdout) as Record<string, { drv: string; out: string; copyTo?: string; copyToMain?: string | null } | null>;
    return new Map(attrs.map((a) => {
        const v = parsed[a];
        if (!v) return [a, null];
        const copyTo = v.copyTo ? { copyTo: { drvPath: v.copyTo, ...(v.copyToMain ? { mainProgram: v.copyToMain } : {}) } } : {};
        return [a, { drvPath: v.drv, outPath: v.out, ...copyTo }];
    }));
}
