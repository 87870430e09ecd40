/**
 * Smoke checks, written once: what a check is (CheckSpec), the versions it compares against
 * (CheckContext), a stack's change to a layer's checks (CheckOverride) and how it applies, the
 * parsers of the two config shapes that carry checks, and the gate a layer's checks present to
 * its descendants (CheckGate). The catalog's own checks are in layers/checks.ts.
 */
import type * as pulumi from "@pulumi/pulumi";
import { LayerstackError } from "./errors";

/** The versions a stack's image must have; the checks compare against these. */
export interface CheckContext {
    readonly cuda: string;
    readonly python: string;
    readonly torch: string;
}

/**
 * A smoke check, run inside the layer's image in the image's own environment (its config's
 * `Env`, `WorkingDir` and `User`; lib/commands/check.ts CHECK_ENV_JQ): either a POSIX sh
 * script, run by the first `sh` on the image's own PATH (`sh -c`), or an argv run as it is
 * (its program found on the image's PATH), for an image with no shell. Exit 0 passes.
 */
export type CheckSpec = CheckCommon & ({ readonly script: string; readonly argv?: undefined } | { readonly argv: readonly string[]; readonly script?: undefined });

interface CheckCommon {
    /** Unique within the layer; the resource is `<layer id>-check-<name>`. */
    readonly name: string;
    /**
     * Needs a GPU: runs only where the check runner has one (the production GPU runner).
     * @default false
     */
    readonly gpu?: boolean;
}

/** What a check runs, as the container or sandbox gets it: `sh -c SCRIPT`, or its argv as it is. */
export function checkArgv(c: CheckSpec): string[] {
    return c.argv !== undefined ? [...c.argv] : ["sh", "-c", c.script];
}

/** A check's argv field (`argv` in config): a non-empty list of strings, the first non-empty. */
function argvProblem(v: unknown): string | undefined {
    return Array.isArray(v) && v.length > 0 && v.every((a) => typeof a === "string") && v[0] !== ""
        ? undefined : "argv must be a non-empty list of strings";
}

/** A stack's change to a layer's checks (`layerstack:checks`). */
export interface CheckOverride {
    readonly name: string;
    /** The new script; with a known name it replaces that check, with a new name it adds one. */
    readonly script?: string;
    /** Instead of a script: the argv to run as it is (for an image with no shell). */
    readonly argv?: readonly string[];
    readonly gpu?: boolean;
    /** Drops the catalog's check of this name. */
    readonly skip?: boolean;
}

/**
 * What a layer's checks give the layers beneath it, whichever runs them (LayerChecks on this
 * machine, RunnerChecks on the GPU runner).
 */
export interface CheckGate {
    /** What must pass before the layer counts as checked. */
    readonly gate: pulumi.Resource[];
    /** Names of checks declared but not run there (they need a GPU it lacks). */
    readonly skipped: string[];
}

/** A check's name: it becomes part of a resource name (`<layer id>-check-<name>`). */
export const CHECK_NAME = /^[a-z0-9][a-z0-9-]{0,40}$/;

/** Applies a stack's overrides to a layer's checks. Errors name the layer and check. */
export function applyOverrides(layerId: string, checks: readonly CheckSpec[], overrides: readonly CheckOverride[], key: string): CheckSpec[] {
    let out = [...checks];
    for (const o of overrides) {
        const known = out.some((c) => c.name === o.name);
        if (o.skip) {
            if (!known) throw new LayerstackError(`${key}: layer "${layerId}" has no check "${o.name}" to skip (it has: ${out.map((c) => c.name).join(", ") || "none"})`);
            out = out.filter((c) => c.name !== o.name);
        } else if (o.script === undefined && o.argv === undefined) {
            throw new LayerstackError(`${key}: check "${o.name}" of layer "${layerId}" needs a script (or argv, or skip: true)`);
        } else {
            const run = o.argv !== undefined ? { argv: o.argv } : { script: o.script! };
            if (known) out = out.map((c) => (c.name === o.name ? { name: o.name, ...run, gpu: o.gpu ?? c.gpu } : c));
            else out.push({ name: o.name, ...run, gpu: o.gpu });
        }
    }
    return out;
}

/** `{"<layer id>": [{name, script?, gpu?, skip?}]}` (the value of `key`), each problem naming the layer and check. */
export function parseCheckOverrides(value: unknown, key: string, problems: string[]): Map<string, CheckOverride[]> {
    const out = new Map<string, CheckOverride[]>();
    if (value === undefined) return out;
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.push(`${key}: must be an object {"<layer id>": [{name, script?, gpu?, skip?}]}`);
        return out;
    }
    for (const [id, list] of Object.entries(value as Record<string, unknown>)) {
        if (!Array.isArray(list)) {
            problems.push(`${key}.${id}: must be a list of {name, script?, gpu?, skip?}`);
            continue;
        }
        const parsed: CheckOverride[] = [];
        list.forEach((o, i) => {
            const where = `${key}.${id}[${i}]`;
            if (typeof o !== "object" || o === null) return void problems.push(`${where}: must be an object`);
            const c = o as Record<string, unknown>;
            if (typeof c.name !== "string" || !CHECK_NAME.test(c.name)) return void problems.push(`${where}: name must be lowercase letters, digits and '-'`);
            if (c.script !== undefined && (typeof c.script !== "string" || c.script.trim() === "")) return void problems.push(`${where}: script must be a non-empty string`);
            if (c.argv !== undefined && argvProblem(c.argv)) return void problems.push(`${where}: ${argvProblem(c.argv)}`);
            if (c.argv !== undefined && c.script !== undefined) return void problems.push(`${where}: set one of script and argv, not both`);
            if (c.skip !== undefined && typeof c.skip !== "boolean") return void problems.push(`${where}: skip must be true or false`);
            if (c.gpu !== undefined && typeof c.gpu !== "boolean") return void problems.push(`${where}: gpu must be true or false`);
            parsed.push({ name: c.name, script: c.script as string | undefined, ...(c.argv !== undefined ? { argv: c.argv as string[] } : {}), gpu: c.gpu as boolean | undefined, skip: c.skip as boolean | undefined });
        });
        out.set(id, parsed);
    }
    return out;
}

/** Checks set on a layer: `[{name, script, gpu?}]` at `where`, each problem naming the layer and check. */
export function parseLayerChecks(value: unknown, where: string, problems: string[]): CheckSpec[] | undefined {
    if (!Array.isArray(value)) {
        problems.push(`${where}.checks: must be a list of {name, script | argv, gpu?}`);
        return undefined;
    }
    const out: CheckSpec[] = [];
    value.forEach((o, i) => {
        const at = `${where}.checks[${i}]`;
        if (typeof o !== "object" || o === null) return void problems.push(`${at}: must be an object {name, script | argv, gpu?}`);
        const c = o as Record<string, unknown>;
        if (typeof c.name !== "string" || !CHECK_NAME.test(c.name)) return void problems.push(`${at}: name must be lowercase letters, digits and '-'`);
        if (c.argv !== undefined) {
            if (argvProblem(c.argv)) return void problems.push(`${at}: ${argvProblem(c.argv)}`);
            if (c.script !== undefined) return void problems.push(`${at}: set one of script and argv, not both`);
        } else if (typeof c.script !== "string" || c.script.trim() === "") return void problems.push(`${at}: script must be a non-empty string`);
        if (c.gpu !== undefined && typeof c.gpu !== "boolean") return void problems.push(`${at}: gpu must be true or false`);
        if (out.some((x) => x.name === c.name)) return void problems.push(`${at}: duplicate check name "${c.name}"`);
        const run = c.argv !== undefined ? { argv: c.argv as string[] } : { script: c.script as string };
        out.push({ name: c.name, ...run, ...(c.gpu !== undefined ? { gpu: c.gpu as boolean } : {}) });
    });
    return out;
}
