import { execFileSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import { LayerstackError } from "./errors";
import { FLAKE_ATTR } from "./graph";
import { requireNix } from "./nixCli";
import { ContainerLayer, N2C_LAYERS_NIX, containerLayers } from "./nix2container";
import type { FlakeMetadata } from "./provenance";

/** What Nix knows about a layer's attribute after evaluation, before any build. */
export interface Evaluated {
    readonly drvPath: string;
    readonly outPath: string;
    /**
     * The attribute's `copyTo` passthru, when it has one (nix2container images): the program
     * that publishes the image, found in the same single evaluation. @default none
     */
    readonly copyTo?: CopyTo;
    /**
     * A nix2container image's own layers (buildLayer's layers.json derivations), in its order,
     * found in the same evaluation without a build (lib/nix2container.ts). @default none
     */
    readonly containerLayers?: readonly ContainerLayer[];
}

/** A `copyTo` program: its derivation and, when declared, `meta.mainProgram`. */
export interface CopyTo {
    readonly drvPath: string;
    readonly mainProgram?: string;
}

/** An attribute that exists but does not evaluate: Nix's own message (its last lines). */
export interface EvalFailure {
    readonly error: string;
}

/** One attribute's result: evaluated, failed, or null when the flake has no such attribute. */
export type EvalResult = Evaluated | EvalFailure | null;

export function isEvalFailure(r: EvalResult | undefined): r is EvalFailure {
    return r !== null && r !== undefined && "error" in r;
}

/**
 * The Nix expression applied to the flake's package set: for each requested attribute,
 * its drvPath and outPath, `{ failed = true; }` when it throws (`builtins.tryEval`, so one
 * broken attribute does not hide the others and the failure is named), or null when the
 * flake has no such attribute. Attribute names are checked against FLAKE_ATTR first, so
 * they can be written as Nix string literals.
 * (The keys are not drvPath/outPath: Nix prints any set with an `outPath` as that string.)
 * An attribute with a `copyTo` passthru (nix2container's buildImage: nlewo/nix2container
 * default.nix, `passthru.copyTo = copyTo image`) also gives copyTo's drvPath and
 * meta.mainProgram, in this same evaluation.
 */
export function evalExpression(attrs: readonly string[]): string {
    for (const a of attrs) if (!FLAKE_ATTR.test(a)) throw new LayerstackError(`invalid flake attribute ${JSON.stringify(a)}`);
    const list = attrs.map((a) => `"${a}"`).join(" ");
    const one = `p: { drv = p.drvPath; out = p.outPath; } // (if p ? copyTo then { copyTo = p.copyTo.drvPath; copyToMain = p.copyTo.meta.mainProgram or null; } // (${N2C_LAYERS_NIX}) p else { })`;
    return `ps: builtins.listToAttrs (map (n: { name = n; value = if !(builtins.hasAttr n ps) then null else if !(builtins.tryEval ps.\${n}.drvPath).success then { failed = true; } else (${one}) ps.\${n}; }) [ ${list} ])`;
}

/** The installable whose attributes are evaluated: `<flake>#packages.<system>`. */
export function packageSet(flake: string, system: string): string {
    return `${flake}#packages.${system}`;
}

const NIX_FLAGS = ["--extra-experimental-features", "nix-command flakes"];

/** Runs `nix eval --json <installable> --apply <fn>`; throws a LayerstackError only when nix is missing. */
function nixEval(installable: string, apply: string, env: NodeJS.ProcessEnv): { ok: true; stdout: string } | { ok: false; status: number | null; tail: string } {
    try {
        const stdout = execFileSync("nix", [...NIX_FLAGS, "eval", "--json", installable, "--apply", apply], {
            encoding: "utf8",
            stdio: ["ignore", "pipe", "pipe"],
            maxBuffer: 64 * 1024 * 1024,
            env,
        });
        return { ok: true, stdout };
    } catch (e) {
        const err = e as NodeJS.ErrnoException & { stderr?: string; status?: number | null };
        if (err.code === "ENOENT") {
            throw new LayerstackError("nix is not on PATH: install Nix (https://nixos.org/download), or for the dev stack run scripts/toolchain.sh");
        }
        return { ok: false, status: err.status ?? null, tail: (err.stderr ?? "").trim().split("\n").slice(-15).join("\n") };
    }
}

/**
 * Evaluates the drvPaths of all requested attributes in ONE `nix eval`. Evaluating a real
 * flake (nixpkgs with CUDA) takes seconds; one evaluation per layer would take a minute.
 * Writes .drv files to the store (Nix's own instantiation) but builds nothing.
 *
 * An attribute that throws (nixpkgs' "marked as broken", an `assert`) is caught per attribute
 * by `builtins.tryEval` inside that one evaluation; only such attributes are evaluated again,
 * alone, to get Nix's message. An error tryEval cannot catch fails the whole evaluation; then,
 * and only then, each attribute is evaluated alone to name the ones that fail. When the
 * package set itself does not evaluate, the error names the flake.
 */
export function evaluateAttrs(flake: string, system: string, attrs: readonly string[], nixConfig?: string, accessTokens?: string): Map<string, EvalResult> {
    const installable = packageSet(flake, system);
    // The stack's own Nix settings (layerstack:nixConfig) in front of the caller's NIX_CONFIG,
    // and the access tokens for private inputs, in this environment only (never argv).
    const tokens = accessTokens ? `extra-access-tokens = ${accessTokens}` : undefined;
    const env = nixConfig === undefined && tokens === undefined ? process.env
        : { ...process.env, NIX_CONFIG: joinNixConfigText(nixConfig, process.env.NIX_CONFIG, tokens) };
    // Before anything else: a Nix older than nixpkgs accepts is refused, naming what was found.
    requireNix(env);
    const all = nixEval(installable, evalExpression(attrs), env);
    let parsed: Record<string, RawEvaluated | { failed: true } | null>;
    if (all.ok) {
        parsed = JSON.parse(all.stdout);
    } else {
        // Which part fails: the package set itself, or some attributes?
        const names = nixEval(installable, "ps: builtins.attrNames ps", env);
        if (!names.ok) {
            throw new LayerstackError(`layerstack:flake: evaluating ${installable} failed (nix exited ${names.status}):\n${names.tail}${inputHint(names.tail, accessTokens)}`);
        }
        const present = new Set(JSON.parse(names.stdout) as string[]);
        parsed = Object.fromEntries(attrs.map((a) => [a, present.has(a) ? { failed: true as const } : null]));
    }
    const out = new Map<string, EvalResult>();
    for (const a of attrs) {
        const v = parsed[a];
        if (v && "failed" in v) {
            // FLAKE_ATTR admits no '"', '\\' or '$': the name is safe in a Nix string literal.
            const alone = nixEval(installable, `ps: { drv = ps."${a}".drvPath; out = ps."${a}".outPath; }`, env);
            const r = alone.ok ? (JSON.parse(alone.stdout) as RawEvaluated) : undefined;
            out.set(a, r ? toEvaluated(r) : { error: (alone as { tail: string }).tail });
        } else {
            out.set(a, v ? toEvaluated(v) : null);
        }
    }
    const failed = [...out.values()].filter(isEvalFailure);
    if (!all.ok && failed.length === 0) {
        // Every attribute evaluates alone, yet not together: report Nix's error as it was.
        throw new LayerstackError(`layerstack:flake: evaluating ${installable} failed (nix exited ${all.status}):\n${all.tail}`);
    }
    return out;
}

/**
 * What to do about an input Nix could not fetch because the host refused it (a private
 * repository answers 401, 403 or, on GitHub, 404): Nix's own message names the input.
 */
function inputHint(tail: string, accessTokens: string | undefined): string {
    if (!/while (updating|fetching) the (flake )?input/.test(tail) || !/HTTP error 40[134]/.test(tail)) return "";
    return accessTokens
        ? "\n(the host refused the token layerstack:nixAccessTokens gives it for this input: is it the host's, and may it read the repository?)"
        : "\n(if an input is private, give Nix its token with layerstack:nixAccessTokens: pulumi config set --secret layerstack:nixAccessTokens 'host=token')";
}

/** One attribute as evalExpression prints it. */
interface RawEvaluated { drv: string; out: string; copyTo?: string; copyToMain?: string | null; n2cLayers?: string[]; n2cInputs?: string[] }

/** An evaluated attribute, with its nix2container copyTo when it has one. */
function toEvaluated(v: RawEvaluated): Evaluated {
    const copyTo = v.copyTo ? { copyTo: { drvPath: v.copyTo, ...(v.copyToMain ? { mainProgram: v.copyToMain } : {}) } } : {};
    const layers = v.n2cLayers ? { containerLayers: containerLayers(v.n2cLayers, v.n2cInputs ?? []) } : {};
    return { drvPath: v.drv, outPath: v.out, ...copyTo, ...layers };
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

/**
 * `nix flake metadata --json <flake>`: the reference as Nix resolves and locks it (for a layer's
 * provenance, lib/provenance.ts). One call per program run, with the stack's Nix settings and
 * access tokens in the environment only; fails naming `layerstack:flake`.
 */
export function flakeMetadata(flake: string, nixConfig?: string, accessTokens?: string): FlakeMetadata {
    const tokens = accessTokens ? `extra-access-tokens = ${accessTokens}` : undefined;
    const env = nixConfig === undefined && tokens === undefined ? process.env
        : { ...process.env, NIX_CONFIG: joinNixConfigText(nixConfig, process.env.NIX_CONFIG, tokens) };
    try {
        return JSON.parse(execFileSync("nix", [...NIX_FLAGS, "flake", "metadata", "--json", flake], {
            encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: 16 * 1024 * 1024, env,
        })) as FlakeMetadata;
    } catch (e) {
        const err = e as { stderr?: string; status?: number | null };
        throw new LayerstackError(`layerstack:flake: nix flake metadata ${flake} failed (nix exited ${err.status ?? "?"}), so no layer's provenance can name its locked revision:\n${(err.stderr ?? "").trim().split("\n").slice(-10).join("\n")}`);
    }
}
