#!/usr/bin/env node
// Prints `pulumi stack output --json layers` (read from stdin) as a table, parents first.
const layers = JSON.parse(require("fs").readFileSync(0, "utf8"));
const rows = Object.entries(layers).map(([id, l]) => [id, l.parent ?? "-", l.tag, l.digest, String(l.ownBlobSize)]);
const head = ["layer", "parent", "tag", "digest", "own blob (bytes)"];
const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
const line = (r) => r.map((c, i) => (i === 4 ? c.padStart(width[i]) : c.padEnd(width[i]))).join("  ");
console.log(line(head));
console.log(width.map((w) => "-".repeat(w)).join("  "));
for (const r of rows) console.log(line(r));
const repo = Object.values(layers)[0]?.repository?.replace(/\/[^/]+$/, "");
console.log(`\n${rows.length} layers in ${repo}; each published as <repository>/<layer>@<digest>.`);
