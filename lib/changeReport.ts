// The preview that says why (ImagePipeline): each layer's contents now (lib/contents.ts, read
// from the .drv files the program's one `nix eval` wrote), against those of the stack's last
// update, which the stack keeps as its `layerContents` output and reads back through the
// engine's builtin invoke `pulumi:pulumi:readStackOutputs`: the same read of a stack's outputs
// a StackReference makes (pulumi/pulumi v3.248.0 pkg/resource/deploy/builtins.go: Invoke
// readStackOutputs -> readStackReference -> backendClient.GetStackOutputs, any stack of the
// backend, this one included), but as an invoke it leaves no resource in the state: a
// StackReference's state would lag one update behind the outputs it read, and every `refresh`
// would find it changed. It works on a fresh machine whose store never held the old
// derivations, and costs no Nix call at all.
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { LayerContents, LayerWhy, layerContents, whyChanged } from "./contents";
import { LayerstackError } from "./errors";
import { DryRun, LayerForecast, readDrvFile } from "./forecast";
import { PreviewReport, PublishedSizes, buildReport, renderText } from "./previewReport";
import { RegistryLimits, checkLimits } from "./registryLimits";

/** The stack outputs the report reads back from the stack's last update (index.ts exports them under these names). */
export const CONTENTS_OUTPUT = "layerContents";
export const LAYERS_OUTPUT = "layers";
export const FORECAST_OUTPUT = "forecast";
export const CHANGES_OUTPUT = "changes";

/** The environment variable naming a file the report is written to as JSON (CI: scripts/preview-table.ts). */
export const REPORT_FILE_ENV = "LAYERSTACK_PREVIEW_REPORT";

/** The contents of every layer, parents first, from the store's .drv files (no Nix process). */
export function contentsOf(layers: readonly { id: string; parent?: string; drvPath: string }[]): Record<string, LayerContents> {
    const byId = new Map(layers.map((l) => [l.id, l]));
    const memo = new Map<string, ReadonlySet<string>>();
    const out: Record<string, LayerContents> = {};
    for (const l of layers) {
        const p = l.parent ? byId.get(l.parent) : undefined;
        out[l.id] = layerContents({ drvPath: l.drvPath, ...(p ? { parent: { id: p.id, drvPath: p.drvPath } } : {}) }, readDrvFile, memo);
    }
    return out;
}

/** What the stack's last update exported, as the report reads it. */
export interface LastUpdate {
    readonly contents?: Record<string, LayerContents>;
    readonly layers?: Record<string, PublishedSizes>;
    readonly forecast?: unknown;
    readonly changes?: unknown;
}

/** The engine's builtin invoke that reads a stack's outputs (see the header). */
export const READ_STACK_OUTPUTS = "pulumi:pulumi:readStackOutputs";

/** How often a read of the last outputs that met the backend's own write is tried, in all. */
export const READ_TRIES = 10;

/** `read()`, tried again (up to READ_TRIES in all, 50 ms more apart each time) while it fails with "failed to load checkpoint". */
export async function readCheckpointAgain<T>(read: () => Promise<T>, pause = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))): Promise<T> {
    for (let attempt = 1; ; attempt++) {
        try {
            return await read();
        } catch (e) {
            if (attempt >= READ_TRIES || !/failed to load checkpoint/.test(String((e as Error)?.message ?? e))) throw e;
            await pause(50 * attempt);
        }
    }
}

/**
 * The stack's own last outputs (the engine's readStackOutputs of this stack).
 *
 * With a file (or other DIY) backend, an `up` writes the stack's checkpoint while it runs (pulumi
 * pkg/backend/diy/state.go saveCheckpoint, a step at a time, the stack's and the first provider's
 * at the program's start), and the invoke reads that same checkpoint (builtins.go
 * readStackReference -> GetStackOutputs). Where the two meet, the read fails with "failed to load
 * checkpoint: EOF" (seen here in test/e2e/kinds.test.ts); it is tried again, a few times, shortly
 * after. Any other error, or the same one every time, fails as before.
 */
export function lastUpdate(parent: pulumi.Resource): pulumi.Output<LastUpdate> {
    const self = `${pulumi.getOrganization()}/${pulumi.getProject()}/${pulumi.getStack()}`;
    const once = () => pulumi.runtime.invoke(READ_STACK_OUTPUTS, { name: self }, { parent }) as Promise<{ outputs?: Record<string, any> }>;
    return pulumi.output(readCheckpointAgain(once).then((r) => {
        const o = r.outputs ?? {};
        return { contents: o[CONTENTS_OUTPUT], layers: o[LAYERS_OUTPUT], forecast: o[FORECAST_OUTPUT], changes: o[CHANGES_OUTPUT] };
    }));
}

export interface ChangeReportArgs {
    readonly layers: readonly { id: string; parent?: string }[];
    readonly contents: Record<string, LayerContents>;
    readonly last: pulumi.Output<LastUpdate>;
    readonly forecast?: pulumi.Output<{ layers: Record<string, LayerForecast>; dry: DryRun } | undefined>;
    readonly limits: RegistryLimits;
}

/**
 * The report, once the forecast and the last update are known: printed as one stack-level
 * message (the table ends the preview's Diagnostics), written to $LAYERSTACK_PREVIEW_REPORT when
 * set, and checked against the registry's limits: a firm limit broken fails the report's Output,
 * which every layer's build waits for (NixImageLayer `startAfter`), so nothing is built.
 */
export function changeReport(args: ChangeReportArgs): pulumi.Output<PreviewReport & { why: Record<string, LayerWhy> }> {
    return pulumi.all([args.forecast ?? pulumi.output(undefined), args.last]).apply(([f, last]) => {
        const why = whyChanged(args.layers, args.contents, last.contents);
        const report = buildReport(args.layers, why, f?.layers, last.layers, f?.dry);
        pulumi.log.info(renderText(report));
        const file = process.env[REPORT_FILE_ENV];
        if (file) fs.writeFileSync(file, JSON.stringify({ stack: pulumi.getStack(), ...report }, null, 2) + "\n");
        const { errors, warnings } = checkLimits(report, args.limits);
        for (const w of warnings) pulumi.log.warn(w);
        if (errors.length) {
            for (const e of errors) pulumi.log.error(e);
            throw new LayerstackError(`the registry would refuse ${errors.length === 1 ? "a layer" : `${errors.length} layers`}, so nothing is built: ${errors.join("; ")} (set layerstack:registryLimits allowOverLimits to go on)`);
        }
        return { ...report, why };
    });
}
