// The one summary a reviewer reads first: per layer, whether it changes and why, what Nix
// will build and fetch for it (the forecast), and the bytes its push will upload; the stack's
// totals; and what a registry would refuse (RegistryLimits). Printed at the end of every
// preview and up as one stack-level message (Pulumi shows it under Diagnostics, after its own
// resource lines), exported as the `changes` stack output, and written as JSON to
// $LAYERSTACK_PREVIEW_REPORT when that is set (CI renders it for the job summary and the pull
// request: scripts/preview-table.ts).
import type { LayerChangeKind, LayerWhy } from "./contents";
import { DryRun, LayerForecast, forecastSummary } from "./forecast";

/** What a layer's last publish said of its image (the `layers` stack output). */
export interface PublishedSizes {
    readonly ownBlobSize: number;
    /** Absent in the outputs of a layerstack older than these figures. */
    readonly configSize?: number;
    readonly manifestSize?: number;
    readonly layerCount?: number;
}

/** Where an upload estimate comes from. */
export type UploadSource = "none" | "last publish" | "last publish: config and manifest" | "forecast NAR sizes" | "unknown";

export interface ReportRow {
    readonly id: string;
    readonly parent?: string;
    readonly change: LayerChangeKind;
    /** The reason in a few words (the table) and in full (the lines under it). */
    readonly short: string;
    readonly why: string;
    /** From the forecast: derivations to build and paths to fetch; undefined without one. */
    readonly build?: number;
    readonly fetch?: number;
    /** The forecast's status and its one-line summary (lib/forecast.ts forecastSummary), for the graph. */
    readonly forecast?: { readonly status: string; readonly summary: string };
    /** Bytes its push will upload; undefined when nothing tells. */
    readonly uploadBytes?: number;
    readonly uploadFrom: UploadSource;
    /** The image's own blob, as estimated (for the registry's blob limit). */
    readonly blobBytes?: number;
    /** Layers of its image, as estimated (for the layer-count limit). */
    readonly layerCount?: number;
}

export interface PreviewReport {
    readonly rows: ReportRow[];
    readonly changed: number;
    /** Nix's own totals (the dry run): each derivation and path once, however many layers need it. */
    readonly build?: number;
    readonly fetch?: number;
    readonly uploadBytes: number;
    /** Rows whose upload nothing tells (left out of uploadBytes). */
    readonly uploadUnknown: number;
}

/**
 * Per layer (parents first): the why, the forecast's counts and the upload estimate. A layer
 * whose own store paths change uploads its new own blob, estimated as the blob of its last
 * publish, plus a new config and manifest; one whose own paths stay (a parent's change reaches
 * only its image's config) uploads a config and a manifest; one never published uploads what
 * the forecast fetches for it (NAR sizes, the upper bound of what its image is made of), or an
 * unknown amount when it is to be built.
 */
export function buildReport(layers: readonly { id: string; parent?: string }[], why: Readonly<Record<string, LayerWhy>>,
    forecast: Readonly<Record<string, LayerForecast>> | undefined, last: Readonly<Record<string, PublishedSizes>> | undefined, dry?: DryRun): PreviewReport {
    const rows: ReportRow[] = [];
    const depth = new Map<string, number>();
    for (const l of layers) {
        const w = why[l.id];
        const f = forecast?.[l.id];
        const before = last?.[l.id];
        depth.set(l.id, (l.parent ? depth.get(l.parent) ?? 0 : 0) + 1);
        const meta = (before?.configSize ?? 0) + (before?.manifestSize ?? 0);
        let uploadBytes: number | undefined, uploadFrom: UploadSource, blobBytes: number | undefined;
        if (w.change === "unchanged") { uploadBytes = 0; uploadFrom = "none"; blobBytes = before?.ownBlobSize; }
        else if (before && w.newBlob) { uploadBytes = before.ownBlobSize + meta; uploadFrom = "last publish"; blobBytes = before.ownBlobSize; }
        else if (before) { uploadBytes = meta; uploadFrom = "last publish: config and manifest"; blobBytes = before.ownBlobSize; }
        else if (f && f.status === "substitute") { uploadBytes = f.narSize; uploadFrom = "forecast NAR sizes"; blobBytes = f.narSize; }
        else { uploadFrom = "unknown"; }
        rows.push({
            id: l.id, ...(l.parent ? { parent: l.parent } : {}), change: w.change, short: w.short, why: w.text,
            ...(f ? { build: f.build.length, fetch: f.fetch.length, forecast: { status: f.status, summary: forecastSummary(f) } } : {}),
            ...(uploadBytes !== undefined ? { uploadBytes } : {}), uploadFrom,
            ...(blobBytes !== undefined ? { blobBytes } : {}),
            layerCount: before?.layerCount ?? depth.get(l.id),
        });
    }
    return {
        rows, changed: rows.filter((r) => r.change !== "unchanged").length,
        ...(forecast && dry ? { build: dry.build.length, fetch: dry.fetch.length } : {}),
        uploadBytes: rows.reduce((s, r) => s + (r.uploadBytes ?? 0), 0),
        uploadUnknown: rows.filter((r) => r.uploadBytes === undefined).length,
    };
}

/** `812 B`, `12.5 KiB`, `3.2 GiB`: short, for a table. */
export function shortSize(bytes: number): string {
    if (bytes < 1024) return `${bytes} B`;
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let v = bytes / 1024, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return `${v.toFixed(1)} ${units[u]}`;
}

function uploadCell(r: ReportRow): string {
    if (r.uploadBytes === undefined) return "unknown";
    if (r.uploadFrom === "none") return "-";
    const how = r.uploadFrom === "last publish" ? "" : r.uploadFrom === "last publish: config and manifest" ? " (config+manifest)" : " (NAR sizes)";
    return `${shortSize(r.uploadBytes)}${how}`;
}

function columns(report: PreviewReport): string[][] {
    const rows = report.rows.map((r) => [
        r.id, r.change === "unchanged" ? "-" : r.change === "new" ? "new" : "changes", r.short,
        r.build === undefined ? "?" : String(r.build), r.fetch === undefined ? "?" : String(r.fetch), uploadCell(r),
    ]);
    const total = ["total", `${report.changed} of ${report.rows.length}`, "",
        report.build === undefined ? "?" : String(report.build), report.fetch === undefined ? "?" : String(report.fetch),
        `${shortSize(report.uploadBytes)}${report.uploadUnknown ? ` + ${report.uploadUnknown} unknown` : ""}`];
    return [["layer", "change", "why", "build", "fetch", "upload"], ...rows, total];
}

/** The full reasons of the layers that change, one line each. */
function reasons(report: PreviewReport): string[] {
    return report.rows.filter((r) => r.change !== "unchanged").map((r) => `${r.id}: ${r.why}`);
}

/** The stack-level message: a title, the reasons, then the table (the exact text is tested). */
export function renderText(report: PreviewReport): string {
    const cols = columns(report);
    const w = cols[0].map((_, i) => Math.max(...cols.map((c) => c[i].length)));
    const line = (c: string[]) => c.map((s, i) => (i === c.length - 1 ? s : s.padEnd(w[i]))).join("  ").trimEnd();
    const why = reasons(report);
    // No blank line: Pulumi's display ends a resource's diagnostics at one.
    return [`layerstack: ${report.changed} of ${report.rows.length} layers change`, ...why, ...cols.map(line)].join("\n");
}

/** The same as Markdown, for a CI job summary and a pull request. */
export function renderMarkdown(report: PreviewReport, title = "layerstack"): string {
    const cell = (s: string) => s.replace(/\|/g, "\\|");
    const cols = columns(report);
    const why = reasons(report);
    return [
        `### ${title}: ${report.changed} of ${report.rows.length} layers change`, "",
        `| ${cols[0].join(" | ")} |`, `|${cols[0].map(() => "---").join("|")}|`,
        ...cols.slice(1).map((c) => `| ${c.map(cell).join(" | ")} |`), "",
        ...(why.length ? ["Why:", "", ...why.map((l) => `- ${cell(l)}`), ""] : []),
    ].join("\n");
}
