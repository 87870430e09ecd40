// The preview that says why (issue 21): for each changed layer, the packages and sources that
// differ in its own contents, or "parent changed"; the bytes its push will upload; one table at
// the end; and what a registry would refuse. Against the dev fixture's 12 layers, the real
// engine, Nix, skopeo and registry.
import * as fs from "fs";
import * as path from "path";
import { TestProject, TestRegistry, must } from "../support/stack";

const registry = new TestRegistry(5981);
const project = new TestProject("why");
const L5 = "layer05-pak3";
const BELOW_5 = ["layer06-cupy", "layer07-pak5", "layer08-pak7", "layer09-sam", "layer10-performance", "layer11-app", "layer12-comfyui"];
const ALL = ["layer01-base-cuda", "layer02-python-tools", "layer03-gcc15", "layer04-pytorch", L5, ...BELOW_5];
const reportFile = () => path.join(project.dir, "report.json");
// layer09 is a nix2container image: its own derivations include its OCI layout and copyTo, built
// from every ancestor's blob, so a change below it rebuilds them (lib/contents.ts contentHash).
const REBUILT = "; its own derivations are rebuilt on it, same packages and sources";
const parentWhy = (id: string, cause: string) => `parent changed: ${cause}${id === "layer09-sam" ? REBUILT : ""}`;

function pakList(): string { return path.join(project.flakeDir, "files/pak3.txt"); }
function editPakList(edit: (text: string) => string): void {
    fs.writeFileSync(pakList(), edit(fs.readFileSync(pakList(), "utf8")));
    project.own();
}

/** The stack's diagnostics of a preview: the table's message, as Pulumi printed it (its lines, trimmed). */
function stackMessage(stdout: string): string[] {
    const lines = stdout.slice(stdout.indexOf("\nDiagnostics:\n")).split("\n");
    const at = lines.findIndex((l) => /^\s*pulumi:pulumi:Stack \(.*\):$/.test(l));
    if (at < 0) throw new Error(`no stack diagnostics in:\n${stdout.slice(-3000)}`);
    const end = lines.findIndex((l, i) => i > at && l.trim() === "");
    return lines.slice(at + 1, end < 0 ? undefined : end).map((l) => l.trim());
}

function preview(): { stdout: string; message: string[]; report: any } {
    const r = project.pulumi(["preview"]);
    if (r.code !== 0) throw new Error(`preview failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
    return { stdout: r.stdout, message: stackMessage(r.stdout), report: JSON.parse(fs.readFileSync(reportFile(), "utf8")) };
}

const why = (report: any) => Object.fromEntries(report.rows.map((r: any) => [r.id, r.why]));

beforeAll(() => {
    registry.start();
    project.initFor(registry, { "layerstack:runChecks": "false" });
    project.env.LAYERSTACK_PREVIEW_REPORT = reportFile();
    must(project.up(), "cold up");
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

test("a no-op preview: every layer unchanged, and the table says so", () => {
    const { message, report } = preview();
    expect(report.changed).toBe(0);
    expect(message[0]).toBe("layerstack: 0 of 12 layers change");
    expect(message.filter((l) => /^layer\d\d-\S+ +- +unchanged +0 +0 +-$/.test(l))).toHaveLength(12);
});

test("one package of pak3's list: its version for layer05, parent changed below it, on a store without the old .drv; the table ends the preview", () => {
    const old = project.outputs().layers[L5].drvPath as string;
    editPakList((t) => t.replace("numpy==2.3.1", "numpy==2.3.2"));
    // The fresh machine: the store lacks the old derivation, and every old derivation built on it.
    const referrers = must(project.nix(["nix-store", "--query", "--referrers-closure", old]), "referrers").stdout.trim().split("\n");
    // --ignore-liveness: the old images' outputs, still in the store, keep their derivers alive
    // (keep-derivations). The daemon refuses that to a client (daemon.cc), so root opens the store itself.
    must(project.nix(["nix-store", "--delete", "--ignore-liveness", ...referrers], { ...project.nixEnv, NIX_REMOTE: "local" }), "delete the old .drv files");
    expect(fs.existsSync(old)).toBe(false);
    const { stdout, message, report } = preview();
    const own = "1 package changed: python3.14-numpy 2.3.1 -> 2.3.2; source pak3.txt changed";
    expect(why(report)).toEqual(Object.fromEntries(ALL.map((id) => [id,
        id === L5 ? own : BELOW_5.includes(id) ? parentWhy(id, `${L5}: ${own}`) : "unchanged"])));
    // The message: a title, one line per changed layer, then the table.
    expect(message.slice(0, 9)).toEqual([
        "layerstack: 8 of 12 layers change",
        `${L5}: ${own}`,
        ...BELOW_5.map((id) => `${id}: ${parentWhy(id, `${L5}: ${own}`)}`),
    ]);
    const table = message.slice(9);
    expect(table[0]).toMatch(/^layer +change +why +build +fetch +upload$/);
    expect(table.find((l) => l.startsWith(`${L5} `))).toMatch(new RegExp(`^${L5} +changes +1 package, 1 source +\\d+ +0 +[\\d.]+ (B|KiB)$`));
    // Below it, a config and a manifest each; layer09's own derivations are rebuilt, so its estimate is its last blob too.
    for (const id of BELOW_5) {
        expect(table.find((l) => l.startsWith(`${id} `))).toMatch(new RegExp(`^${id} +changes +parent changed \\(${L5}\\) +\\d+ +0 +[\\d.]+ (B|KiB)${id === "layer09-sam" ? "" : " \\(config\\+manifest\\)"}$`));
    }
    expect(table[table.length - 1]).toMatch(/^total +8 of 12 +\d+ +0 +[\d.]+ (B|KiB)$/);
    // The table is the last of the diagnostics: after it, only Pulumi's own outputs and summary.
    const after = stdout.slice(stdout.indexOf(table[table.length - 1]) + table[table.length - 1].length);
    expect(after).not.toMatch(/forecast:|layerstack:/);
    // No per-layer forecast messages, and no diff of derivation paths in the outputs.
    expect(stdout).not.toContain("forecast: build:");
    expect(stdout).not.toMatch(/~ forecast|~ changes|~ layerContents/);
});

test("the bytes to upload: the estimate is within 10 % of what the registry's access log shows for the up, and the run table prints both", () => {
    const { report } = preview();
    const from = registry.accessLogLines();
    // With the end-of-run table (the harness leaves it out of other ups).
    project.env.LAYERSTACK_RUN_TABLE = "1";
    const r = must(project.up(), "up of the numpy change");
    project.env.LAYERSTACK_RUN_TABLE = "0";
    const lines = registry.accessLog().split("\n").slice(from).map((l) => l.split(" "));
    // Every body the registry received: blob uploads (PATCH, PUT) and manifests (PUT).
    const received = lines.filter((f) => (f[1] === "PATCH" || f[1] === "PUT") && /\/(blobs\/uploads|manifests)\//.test(f[2] ?? ""))
        .reduce((s, f) => s + Number(f[4]), 0);
    expect(received).toBeGreaterThan(0);
    expect(Math.abs(report.uploadBytes - received) / received).toBeLessThanOrEqual(0.1);
    // The run table: the estimate beside the bytes the pushes uploaded.
    expect(r.stderr).toMatch(new RegExp(`${L5} +published +.*estimated [\\d.]+ (B|KiB), uploaded [\\d.]+ (B|KiB)`));
    expect(project.outputs().changes[L5].why).toBe("1 package changed: python3.14-numpy 2.3.1 -> 2.3.2; source pak3.txt changed");
});

test("a source file change alone, an added package and a removed one", () => {
    editPakList((t) => t.replace("# layerstack fixture", "# the layerstack fixture"));
    expect(why(preview().report)[L5]).toBe("source pak3.txt changed");
    editPakList((t) => `${t}einops==0.8.1\n`);
    expect(why(preview().report)[L5]).toBe("1 package changed: + python3.14-einops 0.8.1; source pak3.txt changed");
    must(project.up(), "up with einops");
    editPakList((t) => t.replace("einops==0.8.1\n", "").replace("kornia==0.8.0\n", ""));
    expect(why(preview().report)[L5]).toBe("2 packages changed: - python3.14-einops 0.8.1, - python3.14-kornia 0.8.0; source pak3.txt changed");
});

test("a lock-style bump of a base package (the Python every package is built for): the layer that holds it says which, every other layer parent changed", () => {
    const spec = path.join(project.flakeDir, "layers.json");
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace('"python": "3.14.0"', '"python": "3.14.1"'));
    project.own();
    const w = why(preview().report);
    const bump = "layer02-python-tools: 1 package changed: python3 3.14.0 -> 3.14.1";
    expect(w["layer01-base-cuda"]).toBe("unchanged");
    expect(w["layer02-python-tools"]).toBe("1 package changed: python3 3.14.0 -> 3.14.1");
    expect(w["layer03-gcc15"]).toBe(`parent changed: ${bump}`);
    expect(w["layer04-pytorch"]).toBe(`parent changed: ${bump}`);
    // layer05's own packages are built for that Python: rebuilt, same names and versions. (Its list is
    // also changed by the test above, so its own line says that.)
    expect(w[L5]).toBe("2 packages changed: - python3.14-einops 0.8.1, - python3.14-kornia 0.8.0; source pak3.txt changed");
    for (const id of BELOW_5) expect([id, w[id]]).toEqual([id, parentWhy(id, `${L5}: ${w[L5]}`)]);
});

test("a layer over a configured blob limit fails the preview naming it, and nothing is built", () => {
    // layer05's last blob is some KiB: a limit of 100 bytes breaks it (and every other changed layer's).
    project.setConfig("layerstack:registryLimits", { maxBlobBytes: 100 });
    const before = project.argvCount();
    const r = project.pulumi(["up", "--yes", "--skip-preview"]);
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(new RegExp(`layer ${L5}: its blob of \\d+ B \\(estimated from its last publish\\) is over the registry's limit of 100 B \\(layerstack:registryLimits maxBlobBytes\\); the registry would refuse it`));
    expect(project.argv(before).filter((a) => a[0] === "nix-store" && a[1] === "--realise")).toEqual([]);
});

test("the push refuses a blob over the limit before uploading it", () => {
    // Back to the published Python; then layer05 gains a file of 3 MB: its estimate (its last blob, some
    // KiB) passes a limit of 2500000 bytes, and so does every other layer's blob (layer01's, busybox, is
    // about 2.1 MB), but its real blob does not.
    project.setConfig("layerstack:registryLimits", { maxBlobBytes: 2500000 });
    const spec = path.join(project.flakeDir, "layers.json");
    fs.writeFileSync(spec, fs.readFileSync(spec, "utf8").replace('"python": "3.14.1"', '"python": "3.14.0"'));
    fs.writeFileSync(path.join(project.flakeDir, "files/big.bin"), Buffer.alloc(3_000_000, 7));
    project.editFixtureLayer(L5, { files: { "opt/big.bin": "files/big.bin" } });
    const from = registry.accessLogLines();
    const r = project.up();
    expect(r.code).not.toBe(0);
    expect(r.stdout + r.stderr).toMatch(new RegExp(`layer ${L5}: its blob of \\d+ B \\(uncompressed, as the archive holds it: skopeo compresses it on upload, so it may fit compressed\\) is over the registry's limit of 2500000 B \\(layerstack:registryLimits maxBlobBytes\\); the registry would refuse it, so nothing was uploaded`));
    // Nothing of layer05 reached the registry, and nothing below it was pushed.
    const pushed = registry.accessLog().split("\n").slice(from).filter((l) => / (PUT|PATCH|POST) /.test(l));
    expect(pushed.filter((l) => /layer(0[5-9]|1[0-2])/.test(l))).toEqual([]);
});
