import { execFile, execFileSync } from "child_process";
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

type NixEvalResult = { ok: true; stdout: string } | { ok: false; status: number | null; tail: string };

/** `nix eval --json <installable> --apply <fn>`'s argv. */
const evalArgs = (installable: string, apply: string) => [...NIX_FLAGS, "eval", "--json", installable, "--apply", apply];
const EVAL_MAX_BUFFER = 64 * 1024 * 1024;

/** A failed `nix eval`: a LayerstackError when nix is missing, else its exit status and the tail of its stderr. */
function evalFailure(err: NodeJS.ErrnoException & { stderr?: string; status?: number | null }, status?: number | null): NixEvalResult {
    if (err.code === "ENOENT") {
        throw new LayerstackError("nix is not on PATH: install Nix (https://nixos.org/download), or for the dev stack run scripts/toolchain.sh");
    }
    return { ok: false, status: status ?? err.status ?? null, tail: (err.stderr ?? "").trim().split("\n").slice(-15).join("\n") };
}

/** Runs `nix eval --json <installable> --apply <fn>`; throws a LayerstackError only when nix is missing. */
function nixEval(installable: string, apply: string, env: NodeJS.ProcessEnv): NixEvalResult {
    try {
        return { ok: true, stdout: execFileSync("nix", evalArgs(installable, apply), { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], maxBuffer: EVAL_MAX_BUFFER, env }) };
    } catch (e) {
        return evalFailure(e as NodeJS.ErrnoException);
    }
}

/** nixEval, without blocking the program's event loop. */
function nixEvalAsync(installable: string, apply: string, env: NodeJS.ProcessEnv): Promise<NixEvalResult> {
    return new Promise((resolve, reject) => {
        const child = execFile("nix", evalArgs(installable, apply), { encoding: "utf8", maxBuffer: EVAL_MAX_BUFFER, env }, (e, stdout, stderr) => {
            if (!e) { resolve({ ok: true, stdout }); return; }
            // execFile's error has `code` (the exit status, or an errno string such as ENOENT) where execFileSync's has `status`.
            const err = e as NodeJS.ErrnoException & { code?: string | number };
            try {
                resolve(evalFailure({ ...err, code: typeof err.code === "string" ? err.code : undefined, stderr }, typeof err.code === "number" ? err.code : null));
            } catch (x) {
                reject(x);
            }
        });
        child.stdin?.end();
    });
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
    const { installable, env } = evalSetup(flake, system, nixConfig, accessTokens);
    return readEvaluation(installable, attrs, nixEval(installable, evalExpression(attrs), env), env, accessTokens);
}

/**
 * evaluateAttrs, with the one `nix eval` run as a child the program does not wait on: while
 * Nix evaluates (seconds on a real flake), the program's event loop is free, so that what the
 * program registered before (index.ts: the registry read-back's provider) reaches the engine,
 * which starts that provider's process meanwhile instead of after the program's declarations.
 * What the result is, and every error, are evaluateAttrs's.
 */
export async function evaluateAttrsAsync(flake: string, system: string, attrs: readonly string[], nixConfig?: string, accessTokens?: string): Promise<Map<string, EvalResult>> {
    const { installable, env } = evalSetup(flake, system, nixConfig, accessTokens);
    return readEvaluation(installable, attrs, await nixEvalAsync(installable, evalExpression(attrs), env), env, accessTokens);
}

/** The installable, and the environment of every `nix eval` of one evaluation; refuses a Nix that is too old. */
function evalSetup(flake: string, system: string, nixConfig?: string, accessTokens?: string): { installable: string; env: NodeJS.ProcessEnv } {
    const installable = packageSet(flake, system);
    // The stack's own Nix settings (layerstack:nixConfig) in front of the caller's NIX_CONFIG,
    // and the access tokens for private inputs, in this environment only (never argv).
    const tokens = accessTokens ? `extra-access-tokens = ${accessTokens}` : undefined;
    const env = nixConfig === undefined && tokens === undefined ? process.env
        : { ...process.env, NIX_CONFIG: joinNixConfigText(nixConfig, process.env.NIX_CONFIG, tokens) };
    // Before anything else: a Nix older than nixpkgs accepts is refused, naming what was found.
    requireNix(env);
    return { installable, env };
}

/** The evaluation's result from the one `nix eval` of every attribute (`all`), and, only where it failed, Nix's word per attribute. */
function readEvaluation(installable: string, attrs: readonly string[], all: NixEvalResult, env: NodeJS.ProcessEnv, accessTokens?: string): Map<string, EvalResult> {
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
 * provenance, lib/provenance.ts). One call per program run, asynchronous (the event loop stays
 * free for the engine), with the stack's Nix settings and access tokens in the environment only;
 * fails naming `layerstack:flake`.
 */
export function flakeMetadata(flake: string, nixConfig?: string, accessTokens?: string): Promise<FlakeMetadata> {
    const tokens = accessTokens ? `extra-access-tokens = ${accessTokens}` : undefined;
    const env = nixConfig === undefined && tokens === undefined ? process.env
        : { ...process.env, NIX_CONFIG: joinNixConfigText(nixConfig, process.env.NIX_CONFIG, tokens) };
    return new Promise((resolve, reject) => {
        execFile("nix", [...NIX_FLAGS, "flake", "metadata", "--json", flake], { encoding: "utf8", maxBuffer: 16 * 1024 * 1024, env }, (e, stdout, stderr) => {
            if (!e) {
                try { return resolve(JSON.parse(stdout) as FlakeMetadata); } catch { /* below */ }
            }
            const status = (e as { code?: number | string } | null)?.code ?? "?";
            reject(new LayerstackError(`layerstack:flake: nix flake metadata ${flake} failed (nix exited ${status}), so no layer's provenance can name its locked revision:\n${(stderr ?? "").trim().split("\n").slice(-10).join("\n")}`));
        });
    });
}
