// The end-of-run table: which layers were published, failed (at which step, with the last
// lines of its output) or skipped (and why), from the engine's events of one `pulumi up`.
//
//   TS_NODE_TRANSPILE_ONLY=true node -r ts-node/register scripts/run-table.ts \
//       --events EVENTS.jsonl --config CONFIG.json [--markdown]
//
// EVENTS.jsonl: the engine events of the run, one JSON object a line, as `pulumi up --json`
//   prints them, or as `pulumi up --event-log FILE` writes them (the same apitype.EngineEvent
//   stream; in CLI 3.248 --event-log is shown only with PULUMI_DEBUG_COMMANDS=true).
// CONFIG.json: `pulumi config --json --stack <stack>`, for the layer tree (layerstack:layers or
//   the megapak catalog, read by the program's own config module: settings/ layerTree), so a
//   layer that never started can say which ancestor stopped it. Resource names are matched
//   against the naming contract (lib/naming.ts layerChildOf), not decoded here.
// Prints the table on stdout; exits 0 whatever the run did (the run's own exit code is the verdict).
import * as fs from "fs";
import { ConfigJsonEntry, layerTree } from "../settings";
import { LayerSpec } from "../lib/graph";
import { layerChildOf } from "../lib/naming";
import { shortSize } from "../lib/previewReport";
import { parsePushOutput } from "../components/nixImageLayer";

export type LayerStatus = "published" | "unchanged" | "failed" | "skipped";

export interface LayerRow {
    id: string;
    status: LayerStatus;
    /** The step that failed (build, push, in-registry, check-<name>, promote, retention, cache-push). */
    step?: string;
    /** The last lines of the failing step's output, or why the layer was skipped. */
    detail?: string;
    /** A published layer: the bytes the preview's table estimated its push would upload (the `changes` output). */
    estimatedBytes?: number;
    /** A published layer: the bytes its push uploaded: its own blob where it is new, its config and manifest. */
    uploadedBytes?: number;
}

interface StepState { outputs?: Record<string, any> }
interface EngineEvent {
    resOutputsEvent?: { metadata: { op: string; urn: string; old?: StepState; new?: StepState } };
    resOpFailedEvent?: { metadata: { op: string; urn: string } };
    diagnosticEvent?: { urn?: string; message: string; severity: string };
}

/** Which layer and step a resource name belongs to (the longest matching id wins): lib/naming.ts layerChildOf. */
export const stepOf = layerChildOf;

/**
 * `n` lines of a failure's output, without the provider's `running "<command>":` line: from
 * Nix's root cause on, when the output has one (its last `error: builder for '<drv>' failed`,
 * which Nix 2.26 follows with the log's last lines, "For full logs, run:" and one "error: 1
 * dependencies ... failed to build" per derivation above it: NixOS/nix 2.26.3
 * src/libstore/build/derivation-goal.cc), else its last `n` lines.
 */
export function lastLines(message: string, n = 6): string {
    const lines = message.replace(/\r/g, "").split("\n");
    const start = /: running ".*":$/.test(lines[0]) ? 1 : 0;
    const kept = lines.slice(start).map((l) => l.trimEnd()).filter((l) => l.trim() !== "");
    let root = -1;
    kept.forEach((l, i) => { if (/^error: builder for '/.test(l.trim())) root = i; });
    return (root >= 0 ? kept.slice(root, root + n) : kept.slice(-n)).join("\n");
}

/**
 * What a push uploaded, from its output (the digest and the manifest as the registry holds it)
 * and the one before it: its own (last) blob where that is new, its config blob and its manifest.
 * The registry already held every other blob (its parent's push wrote them).
 */
export function pushedBytes(stdout: unknown, oldStdout: unknown): number | undefined {
    if (typeof stdout !== "string" || !stdout.startsWith("sha256:")) return undefined;
    const now = parsePushOutput(stdout);
    const before = typeof oldStdout === "string" && oldStdout.startsWith("sha256:") ? parsePushOutput(oldStdout) : undefined;
    const own = now.blobs[now.blobs.length - 1];
    const newBlob = !before || !before.blobs.includes(own);
    return (newBlob ? now.ownBlobSize : 0) + now.configSize + now.manifestSize;
}

/** The rows of the table, parents first. */
export function runTable(layers: readonly LayerSpec[], events: readonly EngineEvent[]): LayerRow[] {
    const ids = layers.map((l) => l.id);
    const nameOf = (urn: string) => urn.split("::").pop()!;
    const pushOp = new Map<string, string>();
    const uploaded = new Map<string, number>();
    let changes: Record<string, { uploadBytes?: number }> | undefined;
    const failed = new Map<string, { step: string; urn: string }>();
    const errors = new Map<string, string>();
    for (const e of events) {
        if (e.resOutputsEvent) {
            const m = e.resOutputsEvent.metadata;
            if (m.urn.includes("::pulumi:pulumi:Stack::")) changes = m.new?.outputs?.changes ?? changes;
            const s = stepOf(nameOf(m.urn), ids);
            if (s?.step === "push") {
                pushOp.set(s.id, m.op);
                const bytes = pushedBytes(m.new?.outputs?.stdout, m.old?.outputs?.stdout);
                if (bytes !== undefined && m.op !== "same") uploaded.set(s.id, bytes);
            }
        } else if (e.resOpFailedEvent) {
            const urn = e.resOpFailedEvent.metadata.urn;
            const s = stepOf(nameOf(urn), ids);
            if (s && !failed.has(s.id)) failed.set(s.id, { step: s.step, urn });
        } else if (e.diagnosticEvent?.severity === "error" && e.diagnosticEvent.urn) {
            errors.set(e.diagnosticEvent.urn, (errors.get(e.diagnosticEvent.urn) ?? "") + e.diagnosticEvent.message);
        }
    }
    const byId = new Map(layers.map((l) => [l.id, l]));
    const rows = new Map<string, LayerRow>();
    for (const l of layers) {
        // The nearest ancestor that failed: a layer beneath it is skipped, even where its own
        // build ran and failed for want of the ancestor's (Nix builds the image on its parent's).
        let a = l.parent ? byId.get(l.parent) : undefined;
        while (a && rows.get(a.id)?.status !== "failed") a = a.parent ? byId.get(a.parent) : undefined;
        const failedAncestor = a && rows.get(a.id)?.status === "failed" ? a.id : undefined;
        const f = failed.get(l.id);
        if (f && !failedAncestor) {
            rows.set(l.id, { id: l.id, status: "failed", step: f.step, detail: lastLines(errors.get(f.urn) ?? "") });
            continue;
        }
        const op = pushOp.get(l.id);
        if (op !== undefined && !f) {
            const est = changes?.[l.id]?.uploadBytes, up = uploaded.get(l.id);
            rows.set(l.id, {
                id: l.id, status: op === "same" ? "unchanged" : "published",
                ...(op !== "same" && est !== undefined ? { estimatedBytes: est } : {}), ...(up !== undefined ? { uploadedBytes: up } : {}),
            });
            continue;
        }
        rows.set(l.id, {
            id: l.id, status: "skipped", ...(f ? { step: f.step } : {}),
            detail: failedAncestor ? `its ancestor ${failedAncestor} failed` : "not reached (the run stopped before it)",
        });
    }
    return layers.map((l) => rows.get(l.id)!);
}

/** The table as aligned text, or as Markdown (for a CI job summary). */
export function renderTable(rows: readonly LayerRow[], markdown = false): string {
    const count = (s: LayerStatus) => rows.filter((r) => r.status === s).length;
    const summary = `${count("published")} published, ${count("unchanged")} unchanged, ${count("failed")} failed, ${count("skipped")} skipped`;
    const bytes = (r: LayerRow) => r.estimatedBytes === undefined && r.uploadedBytes === undefined ? undefined
        : [r.estimatedBytes !== undefined ? `estimated ${shortSize(r.estimatedBytes)}` : undefined,
            r.uploadedBytes !== undefined ? `uploaded ${shortSize(r.uploadedBytes)}` : undefined].filter(Boolean).join(", ");
    rows = rows.map((r) => (r.detail === undefined && bytes(r) ? { ...r, detail: bytes(r) } : r));
    if (markdown) {
        const cell = (s?: string) => (s ?? "").replace(/\|/g, "\\|").replace(/\n/g, "<br>");
        return ["| layer | status | step | detail |", "|---|---|---|---|",
            ...rows.map((r) => `| ${r.id} | ${r.status} | ${cell(r.step)} | ${cell(r.detail)} |`), "", summary, ""].join("\n");
    }
    const w = Math.max(5, ...rows.map((r) => r.id.length));
    const sw = Math.max(4, ...rows.map((r) => (r.step ?? "").length));
    const out = [`${"layer".padEnd(w)}  ${"status".padEnd(9)}  ${"step".padEnd(sw)}  detail`];
    for (const r of rows) {
        const [first, ...more] = (r.detail ?? "").split("\n");
        out.push(`${r.id.padEnd(w)}  ${r.status.padEnd(9)}  ${(r.step ?? "").padEnd(sw)}  ${first}`.trimEnd());
        for (const m of more) out.push(`${"".padEnd(w + 9 + sw + 6)}${m}`);
    }
    out.push(summary);
    return out.join("\n") + "\n";
}

/** The stack's layer tree, from `pulumi config --json` (settings/ layerTree, as scripts/layer-chain.ts reads it). */
export function layersFromConfig(config: Record<string, ConfigJsonEntry>): LayerSpec[] {
    return layerTree(config);
}

function main(argv: string[]): void {
    const arg = (name: string) => { const i = argv.indexOf(name); return i >= 0 ? argv[i + 1] : undefined; };
    const eventsFile = arg("--events");
    const configFile = arg("--config");
    if (!eventsFile || !configFile) {
        console.error("usage: run-table.ts --events EVENTS.jsonl --config CONFIG.json [--markdown]");
        process.exit(2);
    }
    const text = fs.readFileSync(eventsFile === "-" ? 0 : eventsFile, "utf8");
    const events = text.split("\n").filter((l) => l.trim().startsWith("{")).map((l) => JSON.parse(l) as EngineEvent);
    const layers = layersFromConfig(JSON.parse(fs.readFileSync(configFile, "utf8")));
    process.stdout.write(renderTable(runTable(layers, events), argv.includes("--markdown")));
}

if (require.main === module) main(process.argv.slice(2));
