import { parse } from "yaml";

/**
 * What would bring the offline dev toolchain into a CI job, or run Pulumi without the
 * production toolchain. Each finding names the job and step. An empty list means the workflow
 * runs on the official Pulumi CLI, the system's (or install-nix-action's) Nix and cachix only.
 */
export function productionViolations(workflowText: string): string[] {
    const wf = parse(workflowText) as { env?: Record<string, unknown>; jobs: Record<string, Job> };
    const out: string[] = [];
    const checkEnv = (where: string, env: Record<string, unknown> | undefined) => {
        for (const [k, v] of Object.entries(env ?? {})) {
            if (OFFLINE_ENV.includes(k)) out.push(`${where}: sets ${k}, a setting of the offline dev toolchain`);
            if (k === "NIX_CONFIG" && OFFLINE_NIX.some((re) => re.test(String(v)))) out.push(`${where}: NIX_CONFIG carries the dev stack's offline Nix settings`);
        }
    };
    checkEnv("workflow env", wf.env);
    for (const [name, job] of Object.entries(wf.jobs)) {
        checkEnv(`job ${name}`, job.env);
        const steps = job.steps ?? [];
        let hasCli = false;
        steps.forEach((step, i) => {
            const where = `job ${name}, step ${step.name ?? step.uses ?? i + 1}`;
            checkEnv(where, step.env);
            const run = step.run ?? "";
            for (const [re, what] of OFFLINE_RUN) if (re.test(run)) out.push(`${where}: ${what}`);
            for (const k of OFFLINE_ENV) if (run.includes(k)) out.push(`${where}: sets ${k}, a setting of the offline dev toolchain`);
            if (/^\s*export NIX_CONFIG|NIX_CONFIG=/m.test(run)) out.push(`${where}: sets NIX_CONFIG; the stack adds its own settings, the rest is the system's`);
            if (step.uses?.startsWith("pulumi/actions@")) hasCli = true;
            if (/(^|[\s;&|(])pulumi\s/m.test(run) && !hasCli) out.push(`${where}: runs pulumi before the official CLI is installed by pulumi/actions`);
        });
    }
    return out;
}

interface Job {
    env?: Record<string, unknown>;
    steps?: { name?: string; uses?: string; run?: string; env?: Record<string, unknown>; if?: string; id?: string }[];
}

/** Environment only the offline dev toolchain sets (scripts/lib/pulumi-wrapper.sh). */
const OFFLINE_ENV = ["PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "PULUMI_IGNORE_AMBIENT_PLUGINS", "LAYERSTACK_DEV_TOOLCHAIN"];
/** The dev stack's offline Nix settings (Pulumi.dev.yaml layerstack:nixConfig). */
const OFFLINE_NIX = [/^\s*substituters\s*=\s*$/m, /^\s*sandbox\s*=\s*false\s*$/m, /^\s*build-users-group\s*=\s*$/m];
const OFFLINE_RUN: [RegExp, string][] = [
    [/scripts\/toolchain\.sh/, "runs scripts/toolchain.sh, the offline dev toolchain"],
    [/scripts\/env\.sh/, "sources scripts/env.sh, the offline dev toolchain's PATH"],
    [/\.layerstack\/(bin|libexec|pulumi-home)/, "uses the dev toolchain's binaries under .layerstack/"],
    [/\bgo\s+(build|install|run)\b/, "builds from Go (the official CLI and plugins come prebuilt)"],
    [/\bapt(-get)?\s+install\b[^\n]*\bnix-bin\b/, "installs Debian's nix-bin next to the system's Nix"],
    [/\bdocker-registry\b|scripts\/registry\.sh/, "starts the dev registry"],
];
