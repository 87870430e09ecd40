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

/** A smoke check: a POSIX sh script run inside the layer's image (`/bin/sh -c`). Exit 0 passes. */
export interface CheckSpec {
    /** Unique within the layer; the resource is `<layer id>-check-<name>`. */
    readonly name: string;
    /** The POSIX sh script, run as `/bin/sh -c` inside the image. */
    readonly script: string;
    /**
     * Needs a GPU: runs only where the check runner has one (the production GPU runner).
     * @default false
     */
    readonly gpu?: boolean;
}

/** A stack's change to a layer's checks (`layerstack:checks`). */
export interface CheckOverride {
    readonly name: string;
    /** The new script; with a known name it replaces that check, with a new name it adds one. */
    readonly script?: string;
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
        } else if (o.script === undefined) {
            throw new LayerstackError(`${key}: check "${o.name}" of layer "${layerId}" needs a script (or skip: true)`);
        } else if (known) {
            out = out.map((c) => (c.name === o.name ? { name: o.name, script: o.script!, gpu: o.gpu ?? c.gpu } : c));
        } else {
            out.push({ name: o.name, script: o.script, gpu: o.gpu });
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
            if (c.skip !== undefined && typeof c.skip !== "boolean") return void problems.push(`${where}: skip must be true or false`);
            if (c.gpu !== undefined && typeof c.gpu !== "boolean") return void problems.push(`${where}: gpu must be true or false`);
            parsed.push({ name: c.name, script: c.script as string | undefined, gpu: c.gpu as boolean | undefined, skip: c.skip as boolean | undefined });
        });
        out.set(id, parsed);
    }
    return out;
}

/** Checks set on a layer: `[{name, script, gpu?}]` at `where`, each problem naming the layer and check. */
export function parseLayerChecks(value: unknown, where: string, problems: string[]): CheckSpec[] | undefined {
    if (!Array.isArray(value)) {
        problems.push(`${where}.checks: must be a list of {name, script, gpu?}`);
        return undefined;
    }
    const out: CheckSpec[] = [];
    value.forEach((o, i) => {
        const at = `${where}.checks[${i}]`;
        if (typeof o !== "object" || o === null) return void problems.push(`${at}: must be an object {name, script, gpu?}`);
        const c = o as Record<string, unknown>;
        if (typeof c.name !== "string" || !CHECK_NAME.test(c.name)) return void problems.push(`${at}: name must be lowercase letters, digits and '-'`);
        if (typeof c.script !== "string" || c.script.trim() === "") return void problems.push(`${at}: script must be a non-empty string`);
        if (c.gpu !== undefined && typeof c.gpu !== "boolean") return void problems.push(`${at}: gpu must be true or false`);
        if (out.some((x) => x.name === c.name)) return void problems.push(`${at}: duplicate check name "${c.name}"`);
        out.push({ name: c.name, script: c.script, ...(c.gpu !== undefined ? { gpu: c.gpu as boolean } : {}) });
    });
    return out;
}
