// The work forecast on the real engine: every preview asks Nix once what realising the layers
// would do (lib/forecast.ts), prints it per layer, exports it as `forecast`, and `npm run graph`
// colours the layers by it. The stack has a signed file:// cache of its own, as the dev stack does.
//
// The layers: 01 <- 02 <- 03 (a stream image, whose closure holds its ancestors' blobs, so the
// cache has them) and 01 <- 04. The tests build on each other: a cold up; a no-op preview; a
// one-layer change on a store that lacks layer 01's blob (the cache has it), whose forecast
// names exactly what the up then builds and fetches; and a preview with all three colours.
//
// As production runs it: the stack is run by a user the Nix daemon does not trust, so the
// daemon's own nix.conf lists the cache (trusted-substituters) and its key; the stack's
// `extra-substituters` alone would be ignored (lib/nixTrust.ts).
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { formatSize } from "../../lib/forecast";
import { TestNixDaemon } from "../support/nixDaemon";
import { TestProject, TestRegistry, devNixEnv, must } from "../support/stack";
import { untrustedUser } from "../support/testUser";

const registry = new TestRegistry(5953);
const project = new TestProject("forecast", { shims: true, user: untrustedUser() });
let daemon: TestNixDaemon;
const LAYERS = [
    { id: "layer01-base-cuda", attr: "layer01-base-cuda" },
    { id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", attr: "layer03-gcc15", parent: "layer02-python-tools" },
    { id: "layer04-pytorch", attr: "layer04-pytorch", parent: "layer01-base-cuda" },
];
const [L1, L2, L3, L4] = LAYERS.map((l) => l.id);
const nonce = `${process.pid}-${Date.now()}`;
const cacheDir = path.join(project.dir, "binary-cache");
const CACHE_URL = `file://${cacheDir}`;
let cold: Record<string, any>;

const nix = (argv: string[]) => project.nix(argv);
/** The fixture's own derivations, read from the flake directly: a layer's package, blob and image. */
function fixture(attr: string): { pkg: string; blob: string; blobOut: string; image: string } {
    const ev = (installable: string, apply: string) => JSON.parse(must(nix(["nix", "eval", "--json", `path:${project.flakeDir}#${installable}`, "--apply", apply]), "nix eval").stdout);
    return {
        ...ev("legacyPackages.x86_64-linux", `lp: { pkg = lp.pkgs.${attr}.drvPath; blob = lp.blobs.${attr}.drvPath; blobOut = lp.blobs.${attr}.outPath; }`),
        image: ev(`packages.x86_64-linux.${attr}`, "p: p.drvPath"),
    };
}
/** The output of a fixture derivation (each has one). */
const outputOf = (drv: string) => project.outputsOf(drv).join("\n");
/** What the cache's narinfo says of a path (read from the file, not through Nix). */
function narinfo(storePath: string): { downloadSize: number; narSize: number } {
    const text = fs.readFileSync(path.join(cacheDir, `${path.basename(storePath).slice(0, 32)}.narinfo`), "utf8");
    const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, "m").exec(text)![1]);
    return { downloadSize: field("FileSize"), narSize: field("NarSize") };
}
const localInfo = (paths: string[]) => project.pathInfo(paths);
/** The lines of one resource's block in the preview's Diagnostics section, trimmed. */
function diagnostics(stdout: string, header: string): string[] | undefined {
    const lines = stdout.slice(stdout.indexOf("\nDiagnostics:\n")).split("\n");
    const at = lines.findIndex((l) => l.trim() === header);
    if (at < 0) return undefined;
    const end = lines.findIndex((l, i) => i > at && l.trim() === "");
    return lines.slice(at + 1, end).map((l) => l.trim());
}

/** scripts/graph.js as graph.sh runs it (under ts-node: it reads lib/naming.ts and lib/forecast.ts). */
function graph(args: string[]) {
    return spawnSync("node", ["-r", "ts-node/register", path.join(__dirname, "../../scripts/graph.js"), ...args],
        { cwd: path.join(__dirname, "../.."), env: { ...process.env, TS_NODE_TRANSPILE_ONLY: "true" }, encoding: "utf8" });
}

beforeAll(() => {
    registry.start();
    const keyDir = path.join(project.dir, "keys");
    fs.mkdirSync(keyDir);
    execFileSync("nix-store", ["--generate-binary-cache-key", "layerstack-forecast-1", path.join(keyDir, "secret"), path.join(keyDir, "public")], { env: devNixEnv() });
    const publicKey = fs.readFileSync(path.join(keyDir, "public"), "utf8").trim();
    project.binaryCacheDir(cacheDir);
    daemon = new TestNixDaemon({ extra: `trusted-substituters = ${CACHE_URL}\ntrusted-public-keys = ${publicKey}` });
    daemon.start();
    Object.assign(project.env, daemon.clientEnv);
    project.editFixtureLayer(L1, { content: `base layer of the forecast test ${nonce}` });
    // The fixture flake's own tree (layers.json) to match: layer 03 a stream image
    // (streamLayeredImage's shape), layer 04 on layer 01.
    project.editFixtureLayer(L3, { kind: "stream" });
    project.editFixtureLayer(L4, { parent: L1 });
    project.initFor(registry, {
        "layerstack:layers": LAYERS, "layerstack:runChecks": "false",
        "layerstack:cache": "nix-store", "layerstack:cacheUrl": CACHE_URL,
        "layerstack:cachePublicKey": fs.readFileSync(path.join(keyDir, "public"), "utf8").trim(),
    }, { "layerstack:cacheSigningKey": fs.readFileSync(path.join(keyDir, "secret"), "utf8").trim() });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
    daemon?.dispose();
});

test("a no-op preview: every layer unchanged, one nix eval and one dry run, nothing else of Nix", () => {
    must(project.up(), "cold up");
    cold = project.outputs().layers;
    const before = project.argvCount();
    const r = must(project.pulumi(["preview", "--expect-no-changes"]), "preview");
    // The table (lib/previewReport.ts) that ends the preview: nothing to build or fetch, per layer and in all.
    expect(r.stdout).toMatch(new RegExp(`\\n\\s*total +0 of ${LAYERS.length} +0 +0 +0 B\\n`));
    expect(r.stdout).not.toContain("layerstack:index:NixImageLayer (");
    const calls = project.argv(before);
    // The version check, the one evaluation, the daemon's word on the cache, the one dry run (of each derivation's outputs).
    expect(calls.filter((a) => a[0] === "nix" && a[1] === "--version")).toHaveLength(1);
    expect(calls.filter((a) => a[0] === "nix" && a.includes("eval"))).toHaveLength(1);
    expect(calls.filter((a) => a[0] === "nix" && a.includes("store") && a.includes("info"))).toHaveLength(1);
    const dryRuns = calls.filter((a) => a[0] === "nix" && a.includes("--dry-run"));
    expect(dryRuns.map((a) => [...a.slice(0, 5), ...a.slice(5).sort()]))
        .toEqual([["nix", "--extra-experimental-features", "nix-command", "build", "--dry-run", ...LAYERS.map((l) => `${cold[l.id].drvPath}^*`).sort()]]);
    expect(calls.filter((a) => a[0] === "nix-store")).toEqual([]);
    expect(calls).toHaveLength(4);
    // The daemon takes the cache from this untrusted user: no word of it ignored.
    expect(r.stdout + r.stderr).not.toContain("ignoring untrusted substituter");
    expect(r.stdout + r.stderr).not.toContain("the Nix daemon ignores it");
});

test("after a one-layer change, preview and the forecast output name exactly the derivations to build and the paths to fetch from the cache, with their sizes; up does exactly that", () => {
    const base = fixture(L1);
    // This store lacks layer 01's blob, which the cache has (in layer 03's stream image's closure).
    // The old stream image, its only referrer here, goes too (the change replaces it anyway).
    expect(fs.existsSync(path.join(cacheDir, `${path.basename(base.blobOut).slice(0, 32)}.narinfo`))).toBe(true);
    must(nix(["nix-store", "--delete", cold[L3].outPath, base.blobOut]), "nix-store --delete");
    project.editFixtureLayer(L2, { content: `Python 3.14 and one more tool (${nonce})` });
    const two = fixture(L2);
    const three = fixture(L3);
    const { downloadSize, narSize } = narinfo(base.blobOut);
    const fetch = [{ path: base.blobOut, downloadSize, narSize, substituter: CACHE_URL }];
    const expected = {
        [L1]: { status: "unchanged", build: [], fetch: [], downloadSize: 0, narSize: 0 },
        [L2]: { status: "build", build: [two.pkg, two.blob, two.image].sort(), fetch, downloadSize, narSize },
        [L3]: { status: "build", build: [two.pkg, two.blob, three.image].sort(), fetch, downloadSize, narSize },
        [L4]: { status: "unchanged", build: [], fetch: [], downloadSize: 0, narSize: 0 },
    };

    const r = must(project.pulumi(["preview"]), "preview after the change");
    // No per-layer forecast messages any more: one table ends the preview, with each layer's counts and
    // Nix's own totals (4 distinct derivations, 1 path), and the paths in the `forecast` output.
    for (const id of LAYERS.map((l) => l.id)) expect(diagnostics(r.stdout, `layerstack:index:NixImageLayer (${id}):`)).toBeUndefined();
    const table = diagnostics(r.stdout, `pulumi:pulumi:Stack (layerstack-${project.stack}):`)!;
    for (const id of [L2, L3]) expect(table.find((l) => l.startsWith(`${id} `))).toMatch(new RegExp(`^${id} +changes +.* +3 +1 +`));
    for (const id of [L1, L4]) expect(table.find((l) => l.startsWith(`${id} `))).toMatch(new RegExp(`^${id} +- +unchanged +0 +0 +-$`));
    expect(table[table.length - 1]).toMatch(/^total +2 of 4 +4 +1 +/);

    // The up computes the same forecast before its builds start, exports it, and Nix does just that.
    const before = project.argvCount();
    must(project.up(), "up after the change");
    expect(project.outputs().forecast).toEqual(expected);
    // (A build's `--dry-run`, which asks what it would fetch, realises nothing: lib/commands/layer.ts BUILD_SCRIPT.)
    const realising = project.argv(before).filter((a) => a[0] === "nix-store" && a[1] === "--realise" && !a.includes("--dry-run")).map((a) => a[a.length - 1]);
    const realised = new Set(realising.filter((p) => p.endsWith(".drv")));
    expect([...realised].sort()).toEqual([two.image, three.image].sort());
    // The paths fetched before the builds, under the builds' shared lock: the forecast's one path.
    expect([...new Set(realising.filter((p) => !p.endsWith(".drv")))]).toEqual([base.blobOut]);
    const built = [two.pkg, two.blob, two.image, three.image].map(outputOf);
    expect(localInfo(built).map((i) => i.ultimate)).toEqual(built.map(() => true));
    // Fetched, not built: a substituted path is never `ultimate` (store-api.cc copyStorePath).
    expect(localInfo([base.blobOut]).map((i) => [i.path, i.ultimate ?? false])).toEqual([[base.blobOut, false]]);
});

test("npm run graph colours each layer unchanged, substitute or build from the preview's forecast", () => {
    // A change of layer 04 that is in the cache already (built and pushed by another run, here
    // this stack's own: up, back, and its outputs deleted from this store) ...
    const four = () => fixture(L4);
    const original = four();
    project.editFixtureLayer(L4, { content: `PyTorch, rebuilt elsewhere (${nonce})` });
    const elsewhere = four();
    must(project.up(), "up with layer 04 changed (its closure goes to the cache)");
    project.editFixtureLayer(L4, { content: JSON.parse(fs.readFileSync(path.join(__dirname, "../../fixtures/megapak/layers.json"), "utf8")).layers.find((l: any) => l.attr === L4).content });
    expect(four().image).toBe(original.image);
    must(project.up(), "up with layer 04 back");
    must(nix(["nix-store", "--delete", outputOf(elsewhere.image), outputOf(elsewhere.blob), outputOf(elsewhere.pkg)]), "nix-store --delete");
    // ... and a new change of layer 02, which nobody has built.
    project.editFixtureLayer(L4, { content: `PyTorch, rebuilt elsewhere (${nonce})` });
    project.editFixtureLayer(L2, { content: `Python 3.14, changed again (${nonce})` });

    const report = path.join(project.dir, "report.json");
    project.env.LAYERSTACK_PREVIEW_REPORT = report;
    const r = must(project.pulumi(["preview", "--json", "--show-sames"]), "preview --json");
    delete project.env.LAYERSTACK_PREVIEW_REPORT;
    const file = path.join(project.dir, "preview.json");
    fs.writeFileSync(file, r.stdout);
    const g = graph(["--preview", file, "--report", report]);
    expect(g.status).toBe(0);
    const node = (id: string) => g.stdout.split("\n").find((l) => l.startsWith(`  ${id.replace(/[^A-Za-z0-9_]/g, "_")}[`))!;
    expect(node(L1)).toMatch(/<br\/>unchanged: nothing to build or fetch<br\/>.*:::unchanged$/);
    expect(node(L2)).toMatch(/<br\/>will rebuild<br\/>build: 3 derivations to build<br\/>.*:::build$/);
    expect(node(L3)).toMatch(/<br\/>will rebuild<br\/>build: 3 derivations to build<br\/>.*:::build$/);
    const image = narinfo(outputOf(elsewhere.image));
    expect(node(L4)).toMatch(new RegExp(`<br/>will rebuild<br/>substitute: 1 path to fetch: ${formatSize(image.downloadSize).replace(/[()]/g, "\\$&")} download, .*:::substitute$`));
    for (const c of ["unchanged", "substitute", "build"]) expect(g.stdout).toMatch(new RegExp(`^  classDef ${c} fill:#[0-9a-f]+,stroke:#[0-9a-f]+$`, "m"));
    // Each changed layer's edge says why (the report's few words): layers 02 and 04 changed their content string, an
    // environment variable of their own derivations (no package or source): a recipe change; 03 follows 02.
    expect(g.stdout).toContain(`  ${L1.replace(/-/g, "_")} -->|"recipe changed"| ${L4.replace(/-/g, "_")}`);
    expect(g.stdout).toContain(`  ${L2.replace(/-/g, "_")} -->|"parent changed (${L2})"| ${L3.replace(/-/g, "_")}`);

    // The up fetches layer 04's image instead of building it, as forecast.
    must(project.up(), "up");
    expect(project.outputs().forecast[L4]).toEqual({ status: "substitute", build: [], fetch: [{ path: outputOf(elsewhere.image), ...image, substituter: CACHE_URL }], ...image });
    expect(localInfo([outputOf(elsewhere.image)]).map((i) => i.ultimate ?? false)).toEqual([false]);
    // The same colours from the exported forecast (`--forecast`), for a graph drawn after the up.
    const out = path.join(project.dir, "forecast.json");
    fs.writeFileSync(out, JSON.stringify(project.outputs().forecast));
    const layersFile = path.join(project.dir, "layers.json");
    fs.writeFileSync(layersFile, JSON.stringify(project.outputs().layers));
    const g2 = graph(["--outputs", layersFile, "--forecast", out]);
    expect(g2.status).toBe(0);
    expect(g2.stdout.split("\n").filter((l) => l.includes(":::")).map((l) => l.replace(/^ {2}(\w+)\[.*:::(\w+)$/, "$1 $2"))).toEqual([
        "layer01_base_cuda unchanged", "layer02_python_tools build", "layer03_gcc15 build", "layer04_pytorch substitute",
    ]);
});
