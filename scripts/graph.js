#!/usr/bin/env node
// Draws the layer graph as Mermaid, for the README, a terminal or a GitHub job summary.
//   node -r ts-node/register scripts/graph.js --preview preview.json [--report report.json]
//       from `pulumi preview --json`: each layer's state (unchanged / will rebuild / check not
//       passed), digest and own blob size; with the report the program wrote
//       ($LAYERSTACK_PREVIEW_REPORT, lib/changeReport.ts), each layer's work forecast and, on the
//       edge from its parent, why it changes
//   node -r ts-node/register scripts/graph.js --outputs -   from `pulumi stack output --json layers`
//   ... --forecast forecast.json   the forecast from `pulumi stack output --json forecast`
// Each layer is coloured by its forecast when there is one: unchanged (nothing for Nix to do),
// substitute (only fetched from a binary cache) or build; else by its state.
// `npm run graph` runs the preview of the dev stack (or $STACK) and draws it.
// Resources are matched against the naming contract (lib/naming.ts: childName, layerChildOf),
// never decoded here; run under ts-node (graph.sh), or jest, which load the TypeScript module.
const fs = require("fs");
const { childName, layerChildOf } = require("../lib/naming");
const { forecastSummary } = require("../lib/forecast");

const args = process.argv.slice(2);
const read = (f) => JSON.parse(fs.readFileSync(f === "-" ? 0 : f, "utf8"));
const opt = (name) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : undefined; };

/** @returns {{id: string, parent?: string, state: string, digest?: string, size?: number}[]} */
function fromPreview(preview) {
    const layers = new Map();
    const nameOf = (urn) => urn.split("::").pop();
    for (const step of preview.steps) {
        const st = step.newState ?? step.oldState;
        if (st?.type === "layerstack:index:NixImageLayer") layers.set(nameOf(step.urn), { id: nameOf(step.urn), state: "unchanged" });
    }
    const ids = [...layers.keys()];
    /** The layer a resource name belongs to, and its step (`push`, `check-<name>`...). */
    const child = (name) => layerChildOf(name, ids);
    for (const step of preview.steps) {
        const name = nameOf(step.urn);
        const st = step.newState ?? step.oldState;
        const c = child(name);
        if (!c) continue;
        const l = layers.get(c.id);
        if (c.step === "push") {
            // The parent: the layer whose push this push waits for.
            const parentPush = (st.dependencies ?? []).map(nameOf).map(child).find((d) => d?.step === "push" && d.id !== c.id);
            if (parentPush) l.parent = parentPush.id;
            const stdout = step.oldState?.outputs?.stdout;
            if (typeof stdout === "string" && stdout.startsWith("sha256:")) {
                const nl = stdout.indexOf("\n");
                l.digest = stdout.slice(0, nl);
                const m = JSON.parse(stdout.slice(nl + 1));
                l.size = m.layers?.[m.layers.length - 1]?.size;
            }
        }
        const changing = step.op !== "same" && step.op !== "read";
        if (changing && (name === childName(c.id, "build") || name === childName(c.id, "push"))) l.state = "will rebuild";
        else if (changing && c.step.startsWith("check-") && l.state === "unchanged") l.state = "check not passed";
    }
    // A parent known only through the check gate (dependency on `<parent>-check-*`).
    for (const step of preview.steps) {
        const st = step.newState ?? step.oldState;
        const c = child(nameOf(step.urn));
        if (c?.step !== "push" || layers.get(c.id).parent) continue;
        const dep = (st.dependencies ?? []).map(nameOf).map(child).find((d) => d?.step.startsWith("check-"));
        if (dep) layers.get(c.id).parent = dep.id;
    }
    return [...layers.values()];
}

/** Adds the report's forecast and reasons (lib/previewReport.ts rows) to drawn layers. */
function withReport(layers, report) {
    const rows = new Map((report.rows ?? []).map((r) => [r.id, r]));
    for (const l of layers) {
        const r = rows.get(l.id);
        if (!r) continue;
        if (r.forecast) l.forecast = r.forecast;
        if (r.change !== "unchanged") l.why = r.short;
    }
    return layers;
}

/** Adds the `forecast` stack output (per layer: status, build, fetch, downloadSize) to drawn layers. */
function withForecast(layers, forecast) {
    for (const l of layers) {
        const f = forecast?.[l.id];
        // The same summary as the preview's message (lib/forecast.ts forecastSummary).
        if (f) l.forecast = { status: f.status, summary: forecastSummary(f) };
    }
    return layers;
}

function fromOutputs(outputs) {
    return Object.entries(outputs).map(([id, l]) => ({ id, parent: l.parent, state: "published", digest: l.digest, size: l.ownBlobSize }));
}

function mermaid(layers) {
    const key = (id) => id.replace(/[^A-Za-z0-9_]/g, "_");
    const lines = ["```mermaid", "graph TD"];
    for (const l of layers) {
        const detail = [l.state, l.forecast ? `${l.forecast.status}: ${l.forecast.summary}` : undefined,
            l.digest ? l.digest.slice(0, 19) : undefined, l.size !== undefined ? `${l.size} B own blob` : undefined].filter(Boolean).join("<br/>");
        lines.push(`  ${key(l.id)}["${l.id}<br/>${detail.replace(/"/g, "#quot;")}"]:::${(l.forecast?.status ?? l.state).replace(/ /g, "_")}`);
    }
    // A changed layer's edge says why it changes (the report's few words).
    for (const l of layers) if (l.parent) lines.push(l.why ? `  ${key(l.parent)} -->|"${l.why.replace(/"/g, "#quot;")}"| ${key(l.id)}` : `  ${key(l.parent)} --> ${key(l.id)}`);
    lines.push("  classDef unchanged fill:#eef,stroke:#88a");
    lines.push("  classDef published fill:#efe,stroke:#8a8");
    lines.push("  classDef will_rebuild fill:#ffd,stroke:#aa5");
    lines.push("  classDef check_not_passed fill:#fdd,stroke:#a55");
    lines.push("  classDef substitute fill:#dff3ff,stroke:#48a");
    lines.push("  classDef build fill:#ffe2b8,stroke:#c70");
    lines.push("```");
    return lines.join("\n");
}

module.exports = { fromPreview, fromOutputs, withForecast, withReport, mermaid };

if (require.main === module) {
    let layers = opt("--preview") ? fromPreview(read(opt("--preview"))) : opt("--outputs") ? fromOutputs(read(opt("--outputs"))) : null;
    if (!layers) {
        console.error("usage: graph.js --preview preview.json [--report report.json] | --outputs layers.json|- [--forecast forecast.json]");
        process.exit(2);
    }
    if (opt("--report")) layers = withReport(layers, read(opt("--report")));
    if (opt("--forecast")) layers = withForecast(layers, read(opt("--forecast")));
    console.log(mermaid(layers));
}
