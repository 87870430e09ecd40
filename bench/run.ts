// `npm run bench`: benchmarks of the pipeline against what Nix and the registry can do at best,
// measured side by side in one run (issue 5, "Benchmarks"). Writes bench/RESULTS.md.
//
// Every comparison alternates its contenders within each repetition (the order rotates) and
// reports medians. BENCH_ONLY=noop,cold,change,scale,large,drift,forecast,why,scale-drv,fresh,sign runs a subset (the rows
// of the others are carried over from the results file); BENCH_REPS scales the repetition counts
// (e.g. BENCH_REPS=1 for a quick look).
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEV_NIX_CONFIG, REPO, Run, TestProject, TestRegistry, devNixEnv, must } from "../test/support/stack";
import { Evaluated, evalExpression, evaluateAttrs, packageSet } from "../lib/nix";
import { BUILD_SCRIPT, PUSH_SCRIPT } from "../lib/commands/layer";
import { NIX_COPY_PUSH_SCRIPT } from "../lib/commands/cache";
import { OWN_STORE_PATHS_SCRIPT } from "../lib/commands/sign";
import { RegistryClient } from "../lib/registry";
import { megapakLayers } from "../layers/megapak";
import { LayerSpec } from "../lib/graph";
import { NOTES } from "./notes";
import { runForecast } from "../lib/forecast";
import { substituterConfig } from "../components/binaryCache";
import { dagStats, generateDag, writeScaleFlake } from "./scaleDrv";

const ALL = ["noop", "change", "cold", "scale", "large", "drift", "forecast", "why", "scale-drv", "fresh", "sign"];
const ONLY = (process.env.BENCH_ONLY ?? ALL.join(",")).split(",");
const REPS = Number(process.env.BENCH_REPS ?? "0");
const reps = (n: number) => (REPS > 0 ? Math.min(REPS, n) : n);
const SYSTEM = "x86_64-linux";
const started = Date.now();

// ---------------------------------------------------------------- helpers

const log = (s: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(0).padStart(4)}s] ${s}\n`);
const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const m = s.length >> 1; return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2; };
const f2 = (x: number) => x.toFixed(2);
const secs = (x: number) => `${x.toFixed(2)} s`;

function timed<T>(f: () => T): [number, T] {
    const t0 = process.hrtime.bigint();
    const r = f();
    return [Number(process.hrtime.bigint() - t0) / 1e9, r];
}

function sh(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; input?: string } = {}): Run {
    const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 256 * 1024 * 1024, ...opts });
    return { code: r.status ?? -1, stdout: r.stdout ?? "", stderr: r.stderr ?? String(r.error ?? "") };
}

/**
 * Extra arguments for a timed `pulumi up`, to see where its time goes (never set in a results
 * run): BENCH_UP_ARGS, split on spaces, with `{k}` replaced by the repetition's number, e.g.
 * BENCH_UP_ARGS="--otel-traces file:///tmp/trace-{k}.json".
 */
const diagnosticArgs = (k: number): string[] => (process.env.BENCH_UP_ARGS ?? "").split(" ").filter(Boolean).map((a) => a.replace("{k}", String(k)));
/** The CLI's --event-log needs PULUMI_DEBUG_COMMANDS (pkg/cmd/pulumi: a debug command's flag). */
const diagnosticEnv: NodeJS.ProcessEnv = process.env.BENCH_UP_ARGS ? { PULUMI_DEBUG_COMMANDS: "true" } : {};

/** Runs the contenders `reps` times, rotating their order each repetition; returns each one's times. */
function alternate(n: number, contenders: Record<string, () => void>): Record<string, number[]> {
    const names = Object.keys(contenders);
    const out: Record<string, number[]> = Object.fromEntries(names.map((k) => [k, []]));
    for (let r = 0; r < n; r++) {
        for (let i = 0; i < names.length; i++) {
            const k = names[(i + r) % names.length];
            const [t] = timed(contenders[k]);
            out[k].push(t);
            log(`  rep ${r + 1}/${n} ${k}: ${secs(t)}`);
        }
    }
    return out;
}

/** The PATH without a project's argv shims (timed runs go without them; counting runs use them). */
function withoutShims(p: TestProject): string {
    return p.env.PATH!.split(":").filter((d) => d !== path.join(p.dir, "shims")).join(":");
}

function setLayersJson(p: TestProject, edit: (spec: any) => void): void {
    const file = path.join(p.flakeDir, "layers.json");
    const spec = JSON.parse(fs.readFileSync(file, "utf8"));
    edit(spec);
    fs.writeFileSync(file, JSON.stringify(spec, null, 2));
}

/** The kind a fixture layer is built as (fixtures/megapak/layers.json): what a hand-written script would know. */
function fixtureKind(p: TestProject, attr: string): string {
    const spec = JSON.parse(fs.readFileSync(path.join(p.flakeDir, "layers.json"), "utf8"));
    return spec.layers.find((l: any) => l.attr === attr)?.kind ?? "oci";
}

/** The environment of lib/commands/layer.ts's PUSH_SCRIPT for one layer (no format: it detects the kind). */
function pushEnv(layer: string, drvPath: string, copyToDrv?: string): Record<string, string> {
    return {
        LAYERSTACK_DRV_PATH: drvPath, LAYERSTACK_LAYER: layer, LAYERSTACK_REGISTRY: registry.address, LAYERSTACK_TLS_VERIFY: "false",
        ...(copyToDrv ? { LAYERSTACK_COPY_TO_DRV: copyToDrv } : {}),
    };
}

/** A fresh salt in every layer's content: every derivation (pkg, blob, image) is new to the store. */
function salt(p: TestProject, s: string, original: any): void {
    setLayersJson(p, (spec) => { for (const l of spec.layers) l.content = `${original.layers.find((o: any) => o.attr === l.attr).content} [${s}]`; });
}

/**
 * A tiny TypeScript Pulumi program with no resources, sharing the repo's node_modules and the
 * same engine. It loads its TypeScript exactly as the project's program does (the repo's
 * Pulumi.yaml runtime block, lib/register.js), so the rows' baseline pays the same loader and
 * the ratio counts only what the program itself adds.
 */
function emptyProject(like: TestProject): { pulumi: (args: string[]) => Run; dispose: () => void } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-bench-empty-"));
    const runtime = /^runtime:\n(?:[ \t].*\n|\s*#.*\n)+/m.exec(fs.readFileSync(path.join(REPO, "Pulumi.yaml"), "utf8"));
    if (!runtime || !runtime[0].includes("register.js")) throw new Error("bench: Pulumi.yaml's runtime block no longer loads lib/register.js; update emptyProject");
    fs.writeFileSync(path.join(dir, "Pulumi.yaml"), `name: bench-empty\n${runtime[0]}main: index.ts\n`);
    fs.mkdirSync(path.join(dir, "lib"));
    fs.copyFileSync(path.join(REPO, "lib/register.js"), path.join(dir, "lib/register.js"));
    fs.writeFileSync(path.join(dir, "index.ts"), "export const empty = true;\n");
    fs.writeFileSync(path.join(dir, "package.json"), JSON.stringify({ name: "bench-empty", version: "0.0.0", dependencies: { "@pulumi/pulumi": "3.248.0" } }));
    fs.copyFileSync(path.join(REPO, "tsconfig.json"), path.join(dir, "tsconfig.json"));
    fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
    fs.mkdirSync(path.join(dir, ".state"));
    const env = { ...like.env, PATH: withoutShims(like), PULUMI_BACKEND_URL: `file://${dir}/.state` };
    const pulumi = (args: string[]) => sh("pulumi", [...args, "--stack", "bench", "--non-interactive"], { cwd: dir, env });
    must(pulumi(["stack", "init"]), "empty: stack init");
    must(pulumi(["up", "--yes", "--skip-preview"]), "empty: up");
    return { pulumi, dispose: () => fs.rmSync(dir, { recursive: true, force: true }) };
}

/** The exact `nix eval` lib/nix.ts runs for these attributes. */
function nixEvalArgs(flake: string, attrs: string[]): string[] {
    return ["--extra-experimental-features", "nix-command flakes", "eval", "--json", packageSet(flake, SYSTEM), "--apply", evalExpression(attrs)];
}

const evalCount = (p: TestProject, from: number) => p.argv(from).filter((a) => a[0] === "nix" && a.includes("eval")).length;

interface Row { name: string; measured: string; ratio: string; goal: string; met: string }
const rows: Row[] = [];
const notes: string[] = NOTES;
const printed: string[] = [];
function result(r: Row): void {
    rows.push(r);
    const line = `${r.name}: ${r.ratio} (goal ${r.goal}: ${r.met}) — ${r.measured}`;
    printed.push(line);
    console.log(line);
}

const registry = new TestRegistry(5201);
const cleanup: (() => void)[] = [() => registry.dispose()];

function project(stack: string, config: Record<string, string | object>, shims = true): TestProject {
    const p = new TestProject(stack, { shims, passphrase: "layerstack-bench" });
    cleanup.push(() => p.dispose());
    // The dev stack's Nix settings, as every test stack gets them (TestProject.initFor): without
    // them this machine's Nix wants build users and cache.nixos.org.
    p.init({ "layerstack:flake": `path:${p.flakeDir}`, "layerstack:registry": registry.address, "layerstack:nixConfig": DEV_NIX_CONFIG, ...config });
    return p;
}

// ---------------------------------------------------------------- 1 + 3: no-op preview, one-layer change

function noopAndChange(): void {
    const catalog = megapakLayers();
    const attrs = [...new Set(catalog.map((l) => l.attr))];
    log(`no-op preview: cold up of the ${catalog.length}-layer catalog stack (setup)`);
    const p = project("noop", { "layerstack:repository": "bench/noop" });
    const [coldT] = timed(() => must(p.up(), "noop: cold up"));
    log(`  cold up ${secs(coldT)}`);
    const empty = emptyProject(p);
    cleanup.push(empty.dispose);
    const env = { ...p.env, PATH: withoutShims(p) };
    const flake = `path:${p.flakeDir}`;
    if (ONLY.includes("noop")) {
        const t = alternate(reps(5), {
            preview: () => must(sh("pulumi", ["preview", "--expect-no-changes", "--stack", p.stack, "--non-interactive"], { cwd: p.dir, env }), "noop preview"),
            empty: () => must(empty.pulumi(["preview"]), "empty preview"),
            eval: () => must(sh("nix", nixEvalArgs(flake, attrs), { env: devNixEnv(env) }), "nix eval"),
        });
        const [pv, ep, ev] = [median(t.preview), median(t.empty), median(t.eval)];
        const ratio = pv / (ep + ev);
        result({ name: "1. No-op preview", measured: `preview ${secs(pv)}; empty-program preview ${secs(ep)} + one nix eval ${secs(ev)} = ${secs(ep + ev)} (medians of ${t.preview.length})`,
            ratio: f2(ratio), goal: "≤ 1.3", met: ratio <= 1.3 ? "yes" : "NO" });
        // Counting run, with the argv shims.
        const from = p.argvCount();
        must(p.pulumi(["preview", "--expect-no-changes"]), "noop preview (shims)");
        const n = evalCount(p, from);
        result({ name: "1b. `nix eval` processes per preview", measured: `${n} (argv shims, one preview of the unchanged stack)`, ratio: String(n), goal: "= 1", met: n === 1 ? "yes" : "NO" });
    }
    if (!ONLY.includes("change")) return;

    // One-layer change: layer05's content changes; its image and its 6 descendants' images are new.
    const CHANGED = "layer05-pak3";
    const below = (id: string): string[] => [id, ...catalog.filter((l) => l.parent === id).flatMap((l) => below(l.id))];
    const expected = below(CHANGED);
    p.editFixtureLayer(CHANGED, { content: `pak3.txt plus one more package (bench ${Date.now()})` });
    const logFrom = registry.accessLogLines();
    const argvFrom = p.argvCount();
    const [upT] = timed(() => must(p.up(), "change: up"));
    const uploaded = registry.uploadedBytes(logFrom);
    const blobs = registry.uploadedBlobs(logFrom);
    const out = p.outputs().layers;
    const ownBlob = Number(out[CHANGED].ownBlobSize);
    // The new image configs: one per rebuilt image (the changed layer and each descendant).
    const configs = expected.map((id) => {
        const m = JSON.parse(must(sh("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${out[id].imageRef}`]), "inspect").stdout);
        return Number(m.config.size);
    });
    const cfgBytes = configs.reduce((a, b) => a + b, 0);
    const r1 = uploaded / ownBlob, r2 = uploaded / (ownBlob + cfgBytes);
    result({ name: "3. One-layer change: bytes uploaded ÷ changed layer's new layer blob", measured: `${uploaded} B uploaded in ${blobs.length} blobs; new layer blob ${ownBlob} B (compressed, as stored)`,
        ratio: f2(r1), goal: "≤ 1.05", met: r1 <= 1.05 ? "yes" : "NO" });
    result({ name: "3b. … ÷ (new layer blob + the rebuilt images' new config blobs)", measured: `${uploaded} B ÷ (${ownBlob} + ${cfgBytes} B of ${configs.length} configs)`,
        ratio: f2(r2), goal: "≤ 1.05", met: r2 <= 1.05 ? "yes" : "NO" });
    // Builds: the build resources that ran (distinct drvs realised by nix-store), mapped to layers.
    const drvToId = new Map(Object.entries<any>(out).map(([id, l]) => [l.drvPath, id]));
    // The derivations are nix-store's `.drv` arguments (`<drv>`, `<drv>!out`, `<drv>^*`), wherever
    // `--realise` (or `-r`) and the other flags (--no-gc-warning, --add-root ..., ...) stand.
    // A layer's derivation realised is a layer built; anything else realised (the nix2container
    // image's copy-to, which its push realises to run it) is said, and counts against the goal
    // only if it is another layer's.
    const realised = [...new Set(p.argv(argvFrom).filter((a) => a[0] === "nix-store" && a.slice(1).some((x) => x === "--realise" || x === "-r"))
        .flatMap((a) => a.slice(1).filter((x) => x.startsWith("/") && /\.drv(?:[!^].*)?$/.test(x)).map((x) => x.replace(/[!^].*$/, ""))))];
    const built = realised.filter((d) => drvToId.has(d)).map((d) => drvToId.get(d)!);
    const others = realised.filter((d) => !drvToId.has(d));
    const exact = built.length === expected.length && expected.every((id) => built.includes(id));
    result({ name: "3c. One-layer change: layers built", measured: `${built.length} built (${built.join(", ")}); expected ${expected.length}: ${CHANGED} and its descendants`
        + `${others.length ? `; also realised by the pushes: ${others.map((d) => path.basename(d)).join(", ")}` : ""}; up took ${secs(upT)}`,
        ratio: `${built.length}/${expected.length}`, goal: "exactly the changed layer + descendants", met: exact ? "yes" : "NO" });
}

// ---------------------------------------------------------------- 2 + 5: cold build, overhead

function cold(): void {
    const SLEEP = Number(process.env.BENCH_BUILD_SECONDS ?? "3");
    const catalog = megapakLayers();
    const n = reps(3);
    log(`cold build: ${catalog.length} layers, buildSeconds ${SLEEP}, ${n} repetitions of (up | nix build all + push tail | sequential script)`);
    // The stack is only a holder of the flake copy; each repetition's up runs on a new stack.
    const p = new TestProject("cold", { shims: false, passphrase: "layerstack-bench" });
    cleanup.push(() => p.dispose());
    setLayersJson(p, (s) => { s.buildSeconds = SLEEP; });
    const original = JSON.parse(fs.readFileSync(path.join(p.flakeDir, "layers.json"), "utf8"));
    const flake = `path:${p.flakeDir}`;
    const installables = catalog.map((l) => `${flake}#packages.${SYSTEM}.${l.attr}`);
    // Every contender builds with the same Nix settings: a job slot for every package
    // (sleeps use no CPU), so the baseline is Nix's own critical path and the up is not held
    // back by max-jobs = auto (2 here) in each of its per-layer nix-store processes.
    const slots = catalog.length * 3;
    const env = { ...p.env, NIX_CONFIG: `${p.env.NIX_CONFIG ?? ""}\nmax-jobs = ${slots}` };
    let tag = 0;
    const up: number[] = [], nixAll: number[] = [], pushTail: number[] = [], seqBuild: number[] = [], seqTotal: number[] = [], perLayer: number[] = [];
    const contenders: Record<string, () => void> = {
        up: () => {
            const stack = `cold${++tag}`;
            salt(p, `up-${stack}-${Date.now()}`, original);
            must(sh("pulumi", ["stack", "init", stack, "--non-interactive"], { cwd: p.dir, env }), "stack init");
            for (const [k, v] of [["layerstack:flake", flake], ["layerstack:registry", registry.address], ["layerstack:repository", `bench/cold-up`], ["layerstack:runChecks", "false"], ["layerstack:nixConfig", DEV_NIX_CONFIG]]) {
                must(sh("pulumi", ["config", "set", k, v, "--stack", stack, "--non-interactive"], { cwd: p.dir, env }), "config set");
            }
            const [t] = timed(() => must(sh("pulumi", ["up", "--yes", "--skip-preview", "--stack", stack, "--non-interactive"], { cwd: p.dir, env }), "cold up"));
            up.push(t);
        },
        nix: () => {
            const id = ++tag;
            salt(p, `nix-${id}-${Date.now()}`, original);
            // Nix's own critical path: every layer at once, in one process.
            // The copyTo programs (nix2container), as the up's single evaluation finds them (untimed).
            const ev = evaluateAttrs(flake, SYSTEM, catalog.map((l) => l.attr), DEV_NIX_CONFIG);
            const [tb, r] = timed(() => must(sh("nix", ["build", "--no-link", "--json", ...installables], { env: devNixEnv(env) }), "nix build all"));
            const built: { drvPath: string }[] = JSON.parse(r.stdout);
            // The push tail: the same push command the up runs, layer by layer, parents first.
            const [tp] = timed(() => catalog.forEach((l, i) => must(sh("sh", ["-c", PUSH_SCRIPT], {
                env: { ...devNixEnv(env), ...pushEnv(l.id, built[i].drvPath, (ev.get(l.attr) as Evaluated).copyTo?.drvPath), LAYERSTACK_REPOSITORY: `${registry.address}/bench/cold-nix/${l.id}`, LAYERSTACK_TAG: `n${id}` },
            }), `push ${l.id}`)));
            nixAll.push(tb); pushTail.push(tp);
        },
        // Diagnostic: the up's build step without Pulumi: one `nix-store --realise` per layer, all
        // at once (exactly what the layers' build commands run), so 2c splits the up's overhead
        // into Nix's (separate processes on one store) and the engine's.
        perLayer: () => {
            const id = ++tag;
            salt(p, `per-${id}-${Date.now()}`, original);
            const drvs = [...evaluateAttrs(flake, SYSTEM, catalog.map((l) => l.attr), DEV_NIX_CONFIG).values()].map((e) => (e as Evaluated).drvPath);
            // Each one is the layers' build command itself (lib/commands/layer.ts BUILD_SCRIPT).
            const [t] = timed(() => must(sh("bash", ["-c", 'for d in "$@"; do LAYERSTACK_DRV_PATH=$d sh -c "$BUILD_SCRIPT" >/dev/null & done; fail=0; for j in $(jobs -p); do wait "$j" || fail=1; done; exit $fail', "_", ...drvs], { env: { ...devNixEnv(env), BUILD_SCRIPT } }), "concurrent nix-store"));
            perLayer.push(t);
        },
        script: () => {
            const id = ++tag;
            salt(p, `seq-${id}-${Date.now()}`, original);
            const r = must(sh("bash", [path.join(REPO, "bench/sequential.sh"), flake, registry.address, "bench/cold-seq", `s${id}`, ...catalog.map((l) => `${l.attr}:${fixtureKind(p, l.attr)}`)], { env: devNixEnv(env) }), "sequential script");
            const m = /build_s=([\d.]+) total_s=([\d.]+)/.exec(r.stdout)!;
            seqBuild.push(Number(m[1])); seqTotal.push(Number(m[2]));
        },
    };
    const t = alternate(n, contenders);
    const [u, b, pt, sb, st, pl] = [median(up), median(nixAll), median(pushTail), median(seqBuild), median(seqTotal), median(perLayer)];
    void t;
    const r = u / (b + pt);
    result({ name: "2. Cold build: `pulumi up` ÷ (one `nix build` of all layers + push tail)", measured: `up ${secs(u)}; nix build all ${secs(b)} + sequential push tail ${secs(pt)} = ${secs(b + pt)} (medians of ${n}, buildSeconds ${SLEEP})`,
        ratio: f2(r), goal: "≤ 1.2", met: r <= 1.2 ? "yes" : "NO" });
    result({ name: "2c. Diagnostic: `pulumi up` ÷ (one `nix-store --realise` per layer, all at once + push tail)", measured: `up ${secs(u)}; ${catalog.length} concurrent nix-store ${secs(pl)} (vs one nix build ${secs(b)}) + push tail ${secs(pt)} = ${secs(pl + pt)}`,
        ratio: f2(u / (pl + pt)), goal: "(the engine's share of 2; 2 ÷ 2c is Nix's multi-process share)", met: "—" });
    result({ name: "2b. Cold build: `pulumi up` ÷ building the layers one after another (old workflow)", measured: `up ${secs(u)}; sequential nix builds ${secs(sb)}`,
        ratio: f2(u / sb), goal: "(informational; < 1 is a speed-up)", met: "—" });
    result({ name: "5. Overhead: cold `pulumi up` ÷ plain script (nix build + skopeo copy per layer, in sequence)", measured: `up ${secs(u)}; script ${secs(st)} (of which builds ${secs(sb)})`,
        ratio: f2(u / st), goal: "(informational; < 1 is a speed-up)", met: "—" });
}

// ---------------------------------------------------------------- 4: scaling

/** A tree of n generated layers: layer i's parent is layer ⌊(i-1)/4⌋ (depth log4 n, so image size stays small). */
function generated(n: number): { specs: LayerSpec[]; fixture: any[] } {
    const id = (i: number) => `gen${String(i).padStart(3, "0")}`;
    const specs: LayerSpec[] = [], fixture: any[] = [];
    for (let i = 0; i < n; i++) {
        const parent = i === 0 ? undefined : id(Math.floor((i - 1) / 4));
        specs.push({ id: id(i), attr: id(i), ...(parent ? { parent } : {}) } as LayerSpec);
        fixture.push({ attr: id(i), parent: parent ?? null, kind: "oci", content: `generated layer ${i}` });
    }
    return { specs, fixture };
}

function scale(): void {
    const sizes = (process.env.BENCH_SIZES ?? "12,48,192").split(",").map(Number);
    const projects = new Map<number, TestProject>();
    for (const n of sizes) {
        const { specs, fixture } = generated(n);
        const p = project(`scale${n}`, { "layerstack:repository": `bench/scale${n}`, "layerstack:layers": specs.map((s) => ({ id: s.id, attr: s.attr, ...(s.parent ? { parent: s.parent } : {}) })) });
        setLayersJson(p, (s) => { s.buildSeconds = 0; s.layers = fixture; });
        const [t] = timed(() => must(p.up(), `scale ${n}: cold up`));
        log(`scaling: ${n} layers, cold up (setup) ${secs(t)}`);
        projects.set(n, p);
    }
    const times = new Map<number, { preview: number[]; up: number[] }>(sizes.map((n) => [n, { preview: [], up: [] }]));
    const R = reps(3);
    for (let r = 0; r < R; r++) {
        for (const n of r % 2 ? [...sizes].reverse() : sizes) {
            if (n >= 192 && r >= reps(2)) continue; // fewer repetitions for the largest set
            const p = projects.get(n)!;
            const env = { ...p.env, PATH: withoutShims(p) };
            const run = (args: string[]) => must(sh("pulumi", [...args, "--stack", p.stack, "--non-interactive"], { cwd: p.dir, env }), `${n}: ${args[0]}`);
            const [tp] = timed(() => run(["preview", "--expect-no-changes"]));
            const [tu] = timed(() => run(["up", "--yes", "--skip-preview", "--expect-no-changes"]));
            times.get(n)!.preview.push(tp); times.get(n)!.up.push(tu);
            log(`  rep ${r + 1} ${n} layers: preview ${secs(tp)}, no-op up ${secs(tu)}`);
        }
    }
    const fit = (ys: number[]) => {
        const xs = sizes, mx = xs.reduce((a, b) => a + b) / xs.length, my = ys.reduce((a, b) => a + b) / ys.length;
        const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
        const icpt = my - slope * mx;
        const ss = ys.reduce((s, y) => s + (y - my) ** 2, 0), res = ys.reduce((s, y, i) => s + (y - (icpt + slope * xs[i])) ** 2, 0);
        return { slope, icpt, r2: ss ? 1 - res / ss : 1 };
    };
    const evals = sizes.map((n) => {
        const p = projects.get(n)!;
        const from = p.argvCount();
        must(p.pulumi(["preview", "--expect-no-changes"]), `${n}: preview (shims)`);
        return evalCount(p, from);
    });
    for (const kind of ["preview", "up"] as const) {
        const med = sizes.map((n) => median(times.get(n)![kind]));
        const { slope, icpt, r2 } = fit(med);
        // Linear at worst: the per-layer cost of the largest step is no more than 2x that of the smallest.
        const steps = sizes.slice(1).map((n, i) => (med[i + 1] - med[i]) / (n - sizes[i]));
        const linear = steps.length < 2 || steps[steps.length - 1] <= 2 * Math.max(steps[0], 0.001) + 0.002;
        result({ name: `4${kind === "preview" ? "" : "b"}. Scaling: ${kind === "preview" ? "no-op preview" : "no-op up"}`,
            measured: sizes.map((n, i) => `${n}: ${secs(med[i])}`).join("; ") + ` (medians); fit ${f2(icpt)} s + ${(slope * 1000).toFixed(1)} ms/layer, R² ${r2.toFixed(3)}; per-layer step costs ${steps.map((s) => `${(s * 1000).toFixed(1)} ms`).join(", ")}`,
            ratio: `${(slope * 1000).toFixed(1)} ms/layer`, goal: "linear at worst", met: linear ? "yes" : "NO" });
    }
    result({ name: "4c. Scaling: `nix eval` processes per preview", measured: sizes.map((n, i) => `${n}: ${evals[i]}`).join("; "), ratio: evals.join("/"), goal: "= 1 each", met: evals.every((e) => e === 1) ? "yes" : "NO" });
}

// ---------------------------------------------------------------- 6: the registry read-back (drift check)

async function drift(): Promise<void> {
    const N = 12;
    const { specs, fixture } = generated(N);
    const layers = specs.map((l) => ({ id: l.id, attr: l.attr, ...(l.parent ? { parent: l.parent } : {}) }));
    // Two stacks of the same 12 layers: one as shipped, one whose program turns the read-back off
    // (ImagePipelineArgs.checkRegistry), so the difference of their no-op previews is its cost.
    const on = project("drifton", { "layerstack:repository": "bench/drift-on", "layerstack:layers": layers }, false);
    const off = project("driftoff", { "layerstack:repository": "bench/drift-off", "layerstack:layers": layers }, false);
    const index = path.join(off.dir, "index.ts");
    const text = fs.readFileSync(index, "utf8");
    // The program without the read-back: its pipeline args say checkRegistry: false, so it declares
    // neither the RegistryImages nor their provider (index.ts RegistryReadBack).
    const at = "const stack = loadSettings();";
    if (!text.includes(at)) throw new Error("drift: index.ts no longer reads its settings as expected");
    fs.writeFileSync(index, text.replace(at, "const loaded = loadSettings(); const stack = { ...loaded, pipeline: { ...loaded.pipeline, checkRegistry: false } };"));
    for (const p of [on, off]) {
        setLayersJson(p, (x) => { x.buildSeconds = 0; x.layers = fixture; });
        const [t] = timed(() => must(p.up(), `${p.stack}: cold up`));
        log(`drift check: ${p.stack}, ${N} layers, cold up (setup) ${secs(t)}`);
    }
    const checks = on.resources().filter((r) => r.type === "pulumi-nodejs:dynamic/layerstack:RegistryImage").length;
    const none = off.resources().filter((r) => r.type === "pulumi-nodejs:dynamic/layerstack:RegistryImage").length;
    if (checks !== N || none !== 0) throw new Error(`drift: expected ${N} read-backs with the check and none without, got ${checks} and ${none}`);
    if (off.resources().some((r) => r.type === "pulumi:providers:pulumi-nodejs")) throw new Error("drift: the stack without the check still has the read-back's provider");
    const preview = (p: TestProject) => () => must(sh("pulumi", ["preview", "--expect-no-changes", "--stack", p.stack, "--non-interactive"], { cwd: p.dir, env: p.env }), `${p.stack}: preview`);
    const t = alternate(reps(7), { with: preview(on), without: preview(off) });
    // The HEADs themselves: the same 12 manifest HEADs, concurrently, from one process.
    const tags = Object.values<any>(on.outputs().layers).map((l) => ({ repo: `bench/drift-on/${l.repository.split("/").pop()}`, tag: l.tag as string }));
    const heads: number[] = [];
    for (let i = 0; i < reps(7); i++) {
        const c = new RegistryClient({ registry: registry.address });
        const t0 = process.hrtime.bigint();
        const found = await Promise.all(tags.map((x) => c.headManifest(x.repo, x.tag)));
        heads.push(Number(process.hrtime.bigint() - t0) / 1e9);
        if (found.some((d) => d === null)) throw new Error("drift: a published tag is missing");
    }
    const [w, wo, h] = [median(t.with), median(t.without), median(heads)];
    const cost = (w - wo) * 1000;
    result({ name: `7. Registry read-back (drift check): cost per no-op preview, ${N} layers`,
        measured: `preview with it ${secs(w)}, without ${secs(wo)} (medians of ${t.with.length}); the ${N} concurrent manifest HEADs alone ${(h * 1000).toFixed(0)} ms`,
        ratio: `+${cost.toFixed(0)} ms`, goal: "≤ 300 ms", met: cost <= 300 ? "yes" : "NO" });
}

// ---------------------------------------------------------------- 6: large layers, every kind

/**
 * Disk in use for temporary data under `root`: the files there, plus files under it that are
 * already unlinked but still open (the push's decompressed copy is one: /proc/<pid>/fd).
 * Allocated blocks, each inode once.
 */
function tmpDiskUsage(root: string): number {
    const seen = new Set<string>();
    let bytes = 0;
    const add = (st: fs.Stats) => {
        const k = `${st.dev}:${st.ino}`;
        if (st.isFile() && !seen.has(k)) { seen.add(k); bytes += st.blocks * 512; }
    };
    const walk = (d: string) => {
        let entries: fs.Dirent[];
        try { entries = fs.readdirSync(d, { withFileTypes: true }); } catch { return; }
        for (const e of entries) {
            const p = path.join(d, e.name);
            if (e.isDirectory()) walk(p);
            else if (e.isFile()) { try { add(fs.lstatSync(p)); } catch { /* gone */ } }
        }
    };
    walk(root);
    for (const pid of fs.readdirSync("/proc").filter((n) => /^\d+$/.test(n))) {
        let fds: string[];
        try { fds = fs.readdirSync(`/proc/${pid}/fd`); } catch { continue; }
        for (const fd of fds) {
            try {
                if (fs.readlinkSync(`/proc/${pid}/fd/${fd}`).startsWith(root + "/")) add(fs.statSync(`/proc/${pid}/fd/${fd}`));
            } catch { /* closed meanwhile */ }
        }
    }
    return bytes;
}

/** Runs a shell script with TMPDIR at a fresh directory; returns its wall time and the peak of tmpDiskUsage, sampled every 50 ms. */
async function measuredScript(script: string, env: NodeJS.ProcessEnv): Promise<{ t: number; peak: number }> {
    const root = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-bench-tmp-"));
    let peak = 0;
    const sample = () => { peak = Math.max(peak, tmpDiskUsage(root)); };
    const t0 = process.hrtime.bigint();
    const child = spawn("sh", ["-c", script], { env: { ...env, TMPDIR: root }, stdio: ["ignore", "ignore", "pipe"] });
    let stderr = "";
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setInterval(sample, 50);
    const code: number = await new Promise((resolve) => child.on("close", (c) => resolve(c ?? -1)));
    clearInterval(timer);
    const t = Number(process.hrtime.bigint() - t0) / 1e9;
    sample();
    const left = fs.readdirSync(root);
    fs.rmSync(root, { recursive: true, force: true });
    if (code !== 0) throw new Error(`large: script failed (${code}):\n${stderr.slice(-3000)}`);
    if (left.length) throw new Error(`large: left behind in TMPDIR: ${left.join(", ")}`);
    return { t, peak };
}

/**
 * The least a hand-written script does with this skopeo to publish each kind: what the
 * push is compared with. Inputs: $out, $dest, $copy_to.
 */
const BARE: Record<string, string> = {
    "oci": 'exec skopeo copy --quiet --dest-tls-verify=false "oci:$out" "$dest"',
    "docker-archive": 'exec skopeo copy --quiet --dest-tls-verify=false "docker-archive:$out" "$dest"',
    // skopeo 1.9.3 cannot read it (see lib/commands/image.ts): gunzip once, then copy.
    "docker-archive-gz": 'set -e; t=$(mktemp -d); gzip -dc "$out" > "$t/image.tar"; skopeo copy --quiet --dest-tls-verify=false "docker-archive:$t/image.tar" "$dest"; rm -rf "$t"',
    // skopeo reads zstd itself, decompressing into a file of its own (--tmpdir: its default is /var/tmp, not $TMPDIR).
    "docker-archive-zst": 'exec skopeo --tmpdir "$TMPDIR" copy --quiet --dest-tls-verify=false "docker-archive:$out" "$dest"',
    "stream": 'set -e; t=$(mktemp -d); "$out" > "$t/image.tar"; skopeo copy --quiet --dest-tls-verify=false "docker-archive:$t/image.tar" "$dest"; rm -rf "$t"',
    "nix2container": 'exec "$copy_to/bin/copy-to" --quiet --dest-tls-verify=false "$dest" >/dev/null',
};

async function large(): Promise<void> {
    const kinds = (process.env.BENCH_LARGE_KINDS ?? Object.keys(BARE).join(",")).split(",");
    const mib = Number(process.env.BENCH_LARGE_MIB ?? "1024");
    const p = new TestProject("large", { shims: false, passphrase: "layerstack-bench" });
    cleanup.push(() => p.dispose());
    setLayersJson(p, (s) => { s.large = { mib }; });
    const flake = `path:${p.flakeDir}`;
    const env = devNixEnv({ ...p.env, PATH: withoutShims(p) });
    const ev = evaluateAttrs(flake, SYSTEM, kinds.map((k) => `large-${k}`), DEV_NIX_CONFIG);
    const drv = (k: string) => (ev.get(`large-${k}`) as Evaluated).drvPath;
    const copyToDrv = (k: string) => (ev.get(`large-${k}`) as Evaluated).copyTo?.drvPath;
    log(`large layer: building the ${mib} MiB layer in ${kinds.length} kinds (setup, untimed)`);
    const drvs = kinds.flatMap((k) => [drv(k), ...(copyToDrv(k) ? [copyToDrv(k)!] : [])]);
    must(sh("nix-store", ["--realise", ...drvs], { env }), "build the large images");
    const outOf = new Map(drvs.map((d) => [d, must(sh("nix-store", ["-q", "--outputs", d], { env }), "outputs").stdout.trim()]));
    // Every push uploads the whole layer: the registry is emptied before each (untimed).
    const reg = new TestRegistry(5602);
    cleanup.push(() => reg.dispose());
    const fresh = () => { reg.stop(); fs.rmSync(reg.dataDir(), { recursive: true, force: true }); reg.start(); };
    fresh();
    const mibOf = (b: number) => b / 2 ** 20;
    for (const k of kinds) {
        const out = outOf.get(drv(k))!;
        const dest = `docker://${reg.address}/bench/large/${k}:b`;
        const copyTo = copyToDrv(k) ? outOf.get(copyToDrv(k)!) : undefined;
        // The archive skopeo reads, uncompressed: what a copy of it takes on disk.
        const sizeOf = k === "nix2container" ? "echo 0" : k === "stream" ? '"$0" | wc -c' : k.endsWith("-gz") ? 'gzip -dc "$0" | wc -c' : k.endsWith("-zst") ? 'zstd -dcq "$0" | wc -c' : 'du -sbL "$0" | cut -f1';
        const archiveBytes = Number(must(sh("sh", ["-c", sizeOf, out], { env }), "size").stdout.trim());
        // The two kinds with a time goal get more repetitions: two shared cores are noisy.
        const n = reps(k === "oci" || k === "docker-archive" ? 7 : 3);
        const times: Record<string, number[]> = { publish: [], bare: [] };
        const peaks: Record<string, number[]> = { publish: [], bare: [] };
        for (let r = 0; r < n; r++) {
            for (const who of r % 2 ? ["bare", "publish"] : ["publish", "bare"]) {
                fresh();
                const m = who === "publish"
                    ? await measuredScript(PUSH_SCRIPT, { ...env, ...pushEnv(`large-${k}`, drv(k), copyToDrv(k)), LAYERSTACK_REGISTRY: reg.address, LAYERSTACK_REPOSITORY: `${reg.address}/bench/large/${k}`, LAYERSTACK_TAG: `p${r}` })
                    : await measuredScript(BARE[k], { ...env, out, dest, copy_to: copyTo ?? "" });
                times[who].push(m.t); peaks[who].push(m.peak);
                log(`  ${k} rep ${r + 1}/${n} ${who}: ${secs(m.t)}, peak extra disk ${mibOf(m.peak).toFixed(1)} MiB`);
            }
        }
        const [tp, tb] = [median(times.publish), median(times.bare)];
        const [pp, pb] = [Math.max(...peaks.publish), Math.max(...peaks.bare)];
        // Each repetition runs the two back to back, under about the same load from the machine's
        // other users: the ratio is the median of the per-repetition ratios.
        const ratio = median(times.publish.map((t, i) => t / times.bare[i]));
        const inPlace = k === "oci" || k === "docker-archive" || k === "nix2container";
        // In place: no extra full copy (under 1% of the layer). Otherwise: one uncompressed copy at most.
        const diskOk = inPlace ? pp < 0.01 * mib * 2 ** 20 : pp <= archiveBytes * 1.01 + 2 ** 20;
        const timeOk = k === "oci" || k === "docker-archive" ? ratio <= 1.1 : true;
        result({
            name: `6. Large layer (${mib} MiB, incompressible): ${k}`,
            measured: `publish ${secs(tp)}, bare ${secs(tb)} (medians of ${n}; per-repetition ratios ${times.publish.map((t, i) => f2(t / times.bare[i])).join(", ")}); peak extra disk: publish ${mibOf(pp).toFixed(1)} MiB, bare ${mibOf(pb).toFixed(1)} MiB`
                + (inPlace ? "" : `; one uncompressed copy of the archive: ${mibOf(archiveBytes).toFixed(1)} MiB`),
            ratio: f2(ratio),
            goal: k === "oci" || k === "docker-archive" ? "time ≤ 1.1, no extra copy" : inPlace ? "no extra copy" : "at most one uncompressed copy",
            met: timeOk && diskOk ? "yes" : "NO",
        });
    }
}

// ---------------------------------------------------------------- 8: the work forecast's cost

/**
 * The forecast (lib/forecast.ts) every preview runs: the exact Nix calls the program makes
 * (runForecast with the stack's Nix settings), timed against the preview they are part of, on
 * the catalog stack with a signed file:// cache of its own (as the dev stack has): once with
 * nothing to do, once after a one-layer change on a store that lacks layer 01's blob, which the
 * cache holds (layer 12's stream image references every blob).
 */
function forecastCost(): void {
    const catalog = megapakLayers();
    const p = new TestProject("fcast", { shims: true, passphrase: "layerstack-bench" });
    cleanup.push(() => p.dispose());
    const keys = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-bench-keys-"));
    cleanup.push(() => fs.rmSync(keys, { recursive: true, force: true }));
    must(sh("nix-store", ["--generate-binary-cache-key", "layerstack-bench-1", path.join(keys, "secret"), path.join(keys, "public")], { env: devNixEnv() }), "cache key");
    const cacheUrl = `file://${path.join(p.dir, "binary-cache")}`;
    const publicKey = fs.readFileSync(path.join(keys, "public"), "utf8").trim();
    p.editFixtureLayer("layer01-base-cuda", { content: `base layer of the forecast bench ${Date.now()}` });
    p.init({ "layerstack:flake": `path:${p.flakeDir}`, "layerstack:registry": registry.address, "layerstack:repository": "bench/forecast",
        "layerstack:nixConfig": DEV_NIX_CONFIG, "layerstack:runChecks": "false", "layerstack:cache": "nix-store", "layerstack:cacheUrl": cacheUrl,
        "layerstack:cachePublicKey": publicKey }, { "layerstack:cacheSigningKey": fs.readFileSync(path.join(keys, "secret"), "utf8").trim() });
    log(`forecast: cold up of the ${catalog.length}-layer catalog stack with a file cache (setup)`);
    must(p.up(), "forecast: cold up");
    const nixConfig = `${DEV_NIX_CONFIG.trim()}\n${substituterConfig(cacheUrl, [publicKey])}`;
    const env = { ...p.env, PATH: withoutShims(p) };
    // The forecast's own Nix calls (lib/forecast.ts): the dry run, the config (`config show`, or `show-config`
    // before 2.20) and path-info; not the evaluation, the version check or the cache's trust check (store info).
    const FORECAST_CALLS = ["build", "show-config", "config", "path-info"];
    const nixCalls = (from: number) => p.argv(from).filter((a) => a[0] === "nix" && a.some((x) => FORECAST_CALLS.includes(x)) && !a.includes("eval"))
        .map((a) => a.find((x) => FORECAST_CALLS.includes(x))!);
    const measure = (name: string, previewArgs: string[]) => {
        const layers = [...evaluateAttrs(`path:${p.flakeDir}`, SYSTEM, catalog.map((l) => l.attr), DEV_NIX_CONFIG).entries()].map(([attr, e]) => ({ id: attr, drvPath: e!.drvPath }));
        let work = "";
        const t = alternate(reps(5), {
            preview: () => must(sh("pulumi", ["preview", ...previewArgs, "--stack", p.stack, "--non-interactive"], { cwd: p.dir, env }), `${name}: preview`),
            forecast: () => {
                const f = runForecast(layers, nixConfig);
                work = `${f.dry.build.length} to build, ${f.dry.fetch.length} to fetch, ${Object.values(f.layers).filter((l) => l.status !== "unchanged").length} layers with work`;
            },
        });
        const from = p.argvCount();
        must(p.pulumi(["preview", ...previewArgs]), `${name}: preview (shims)`);
        return { pv: median(t.preview), fc: median(t.forecast), n: t.preview.length, calls: nixCalls(from), work };
    };
    const noop = measure("no-op", ["--expect-no-changes"]);
    result({ name: "8. Forecast: cost per no-op preview", measured: `forecast ${(noop.fc * 1000).toFixed(0)} ms (${noop.calls.length} Nix call: ${noop.calls.join(", ")}; ${noop.work}) in a preview of ${secs(noop.pv)} (medians of ${noop.n}, ${catalog.length} layers)`,
        ratio: `${(100 * noop.fc / noop.pv).toFixed(1)} %`, goal: "one Nix call for all layers", met: noop.calls.join(",") === "build" ? "yes" : "NO" });

    // One-layer change: layer05 as in row 3; this store lacks layer01's blob (and the stream image that references it).
    p.editFixtureLayer("layer05-pak3", { content: `pak3.txt plus one more package (forecast bench ${Date.now()})` });
    const blob01 = JSON.parse(must(sh("nix", ["eval", "--json", `path:${p.flakeDir}#legacyPackages.${SYSTEM}.blobs.layer01-base-cuda.outPath`], { env: devNixEnv(env) }), "eval blob").stdout);
    // The blob and every path that references it (the catalog's stream images hold their ancestors' blobs).
    const referrers = must(sh("nix-store", ["--query", "--referrers-closure", blob01], { env: devNixEnv(env) }), "referrers of layer01's blob").stdout.trim().split("\n");
    must(sh("nix-store", ["--delete", ...referrers], { env: devNixEnv(env) }), "delete layer01's blob");
    const change = measure("change", []);
    result({ name: "8b. Forecast: cost per preview of a one-layer change with paths to fetch", measured: `forecast ${(change.fc * 1000).toFixed(0)} ms (${change.calls.length} Nix calls: ${change.calls.join(", ")}; ${change.work}) in a preview of ${secs(change.pv)} (medians of ${change.n})`,
        ratio: `${(100 * change.fc / change.pv).toFixed(1)} %`, goal: "a fixed number of Nix calls, not one per layer", met: ["build,config,path-info", "build,show-config,path-info"].includes(change.calls.join(",")) ? "yes" : "NO" });
}

// ---------------------------------------------------------------- 11: a merged pull request in CI

/** Starts bench/http-cache.mjs on `port` over `dir`; returns its access log and a stop function. */
function httpCache(dir: string, port: number): { url: string; log: string; stop: () => void } {
    const log = path.join(dir, "..", `access-${port}.log`);
    const child = spawn(process.execPath, [path.join(REPO, "bench/http-cache.mjs"), dir, String(port), log], { stdio: "ignore" });
    const url = `http://127.0.0.1:${port}`;
    for (let i = 0; i < 100 && sh("curl", ["-sf", "-o", "/dev/null", `${url}/nix-cache-info`]).code !== 0; i++) sh("sleep", ["0.05"]);
    return { url, log, stop: () => child.kill("SIGTERM") };
}

/** Bytes of NAR files fetched (GET nar/… 200) in the cache's access log since line `from`, and which .narinfo paths were read. */
function cacheFetches(log: string, from: number, cacheDir?: string): { bytes: number; nars: number; lines: number; names: string[] } {
    const lines = fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean) : [];
    // The store path each NAR file is of, from the cache's .narinfo files (URL: and StorePath: lines).
    const narPath = new Map<string, string>();
    for (const f of cacheDir && fs.existsSync(cacheDir) ? fs.readdirSync(cacheDir).filter((n) => n.endsWith(".narinfo")) : []) {
        const info = fs.readFileSync(path.join(cacheDir!, f), "utf8");
        const url = /^URL: (.*)$/m.exec(info)?.[1], sp = /^StorePath: (.*)$/m.exec(info)?.[1];
        if (url && sp) narPath.set(`/${url}`, sp.replace(/^\/nix\/store\/[a-z0-9]{32}-/, ""));
    }
    let bytes = 0, nars = 0;
    const names: string[] = [];
    for (const l of lines.slice(from)) {
        const [method, p, status, size] = l.split(" ");
        if (method === "GET" && status === "200" && p.startsWith("/nar/")) { bytes += Number(size); nars++; names.push(`${narPath.get(p) ?? p} (${size} B)`); }
    }
    return { bytes, nars, lines: lines.length, names };
}

/**
 * What a merged pull request costs in CI (issue 22, item 2): a hosted runner starts with an empty
 * store, and the binary cache holds the last publish's closures. The catalog stack publishes once
 * with a signed HTTP binary cache (bench/http-cache.mjs, which logs what Nix fetches), and its
 * checkpoint is kept. Each repetition changes layer05 (a new content, so its image and its 7
 * descendants' are new) and empties the store of everything the stack's layers are built from or
 * are (the requisites of every layer's derivation and its outputs, .drv files included: a fresh
 * machine has none), with Nix's narinfo cache; then, alternating:
 * - up: `pulumi up --yes` (as the workflow's up job runs it) on the stack's last checkpoint;
 * - script: what a plain script does: one `nix build` of the changed layers (evaluation,
 *   substitution and builds), then the push tail (lib/commands/layer.ts PUSH_SCRIPT) and the cache
 *   push (lib/commands/cache.ts NIX_COPY_PUSH_SCRIPT), the very commands the up runs, of the
 *   changed layers in order, to the same repositories (so unchanged blobs are there already).
 * Before each contender, `nix build --dry-run` of the changed layers (untimed) lists the paths Nix
 * must fetch; the bytes fetched are the NAR files the cache served (GET /nar/…) during the timed run.
 */
function fresh(): void {
    const catalog = megapakLayers();
    const CHANGED = "layer05-pak3";
    const below = (id: string): string[] => [id, ...catalog.filter((l) => l.parent === id).flatMap((l) => below(l.id))];
    const changed = below(CHANGED);
    const p = new TestProject("fresh", { shims: false, passphrase: "layerstack-bench" });
    cleanup.push(() => p.dispose());
    const keys = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-bench-freshkeys-"));
    cleanup.push(() => fs.rmSync(keys, { recursive: true, force: true }));
    must(sh("nix-store", ["--generate-binary-cache-key", "layerstack-bench-fresh-1", path.join(keys, "secret"), path.join(keys, "public")], { env: devNixEnv() }), "cache key");
    const publicKey = fs.readFileSync(path.join(keys, "public"), "utf8").trim();
    const signingKey = fs.readFileSync(path.join(keys, "secret"), "utf8").trim();
    const cacheDir = path.join(keys, "cache");
    const cache = httpCache(cacheDir, 5211);
    cleanup.push(cache.stop);
    // Every derivation of this run is new to the store and to the cache (a salt in layer01's content).
    p.editFixtureLayer("layer01-base-cuda", { content: `base layer of the fresh-machine bench ${Date.now()}` });
    p.init({ "layerstack:flake": `path:${p.flakeDir}`, "layerstack:registry": registry.address, "layerstack:repository": "bench/fresh",
        "layerstack:nixConfig": DEV_NIX_CONFIG, "layerstack:runChecks": "false", "layerstack:cache": "nix-store", "layerstack:cacheUrl": cache.url,
        "layerstack:cachePublicKey": publicKey }, { "layerstack:cacheSigningKey": signingKey });
    log(`fresh machine: cold up of the ${catalog.length}-layer catalog stack with an HTTP binary cache (setup)`);
    must(p.up(), "fresh: publish");
    const checkpoint = path.join(keys, "checkpoint.json");
    fs.writeFileSync(checkpoint, must(p.pulumi(["stack", "export"]), "stack export").stdout);
    const flake = `path:${p.flakeDir}`;
    const nixConfig = `${DEV_NIX_CONFIG.trim()}\n${substituterConfig(cache.url, [publicKey])}`;
    const env = { ...p.env, PATH: withoutShims(p) };
    const nixEnv = devNixEnv({ ...env, NIX_CONFIG: substituterConfig(cache.url, [publicKey]) });
    const rootEnv = { ...nixEnv, NIX_REMOTE: "local" };
    const installables = (ids: string[]) => ids.map((id) => `${flake}#packages.${SYSTEM}.${catalog.find((l) => l.id === id)!.attr}`);
    // The derivations of the published stack, whose requisites (and their outputs) each repetition deletes.
    const published = Object.values<any>(p.outputs().layers).map((l) => l.drvPath as string);
    const emptyStore = () => {
        const drvs = [...published, ...[...evaluateAttrs(flake, SYSTEM, catalog.map((l) => l.attr), DEV_NIX_CONFIG).values()].map((e) => (e as Evaluated).drvPath)];
        // (A derivation an earlier repetition deleted is gone already.)
        const requisites = must(sh("nix-store", ["--query", "--requisites", "--include-outputs", ...new Set(drvs.filter((d) => fs.existsSync(d)))], { env: rootEnv }), "requisites").stdout.trim().split("\n").filter(Boolean);
        // With every path that refers to them (Nix deletes no path another valid path refers to),
        // --ignore-liveness as root on the store itself, as test/e2e/why.test.ts does (the daemon refuses it to a client).
        const paths = must(sh("nix-store", ["--query", "--referrers-closure", ...requisites], { env: rootEnv }), "referrers").stdout.trim().split("\n").filter(Boolean);
        must(sh("nix-store", ["--delete", "--ignore-liveness", ...paths], { env: rootEnv }), "empty the store");
        for (const home of new Set([os.homedir(), "/root"])) fs.rmSync(path.join(home, ".cache/nix"), { recursive: true, force: true });
        return paths.length;
    };
    const dryFetch = () => {
        const r = must(sh("nix", ["build", "--dry-run", "--no-link", ...installables(changed)], { env: nixEnv }), "dry run");
        const m = /these (\d+) paths? will be fetched \(([\d.]+) (\w+) download/.exec(r.stderr);
        return m ? `${m[1]} paths (${m[2]} ${m[3]})` : "nothing";
    };
    let rep = 0;
    const upTimes: number[] = [], scriptTimes: number[] = [];
    const fetched: Record<string, { bytes: number; nars: number; need: string; deleted: number }[]> = { up: [], script: [] };
    const t = alternate(reps(3), {
        up: () => {
            const k = ++rep;
            must(p.pulumi(["stack", "import", "--file", checkpoint]), "stack import");
            p.editFixtureLayer(CHANGED, { content: `pak3.txt plus one more package (fresh up ${k} ${Date.now()})` });
            const deleted = emptyStore();
            const need = dryFetch();
            const from = cacheFetches(cache.log, 0).lines;
            const [dt] = timed(() => must(sh("pulumi", ["up", "--yes", "--skip-preview", "--stack", p.stack, "--non-interactive", ...diagnosticArgs(k)], { cwd: p.dir, env: { ...env, ...diagnosticEnv } }), "fresh: up"));
            const got = cacheFetches(cache.log, from, cacheDir);
            log(`    up fetched: ${got.names.join(", ") || "nothing"}`);
            fetched.up.push({ bytes: got.bytes, nars: got.nars, need, deleted });
            upTimes.push(dt);
        },
        script: () => {
            const k = ++rep;
            p.editFixtureLayer(CHANGED, { content: `pak3.txt plus one more package (fresh script ${k} ${Date.now()})` });
            const deleted = emptyStore();
            const need = dryFetch();
            const from = cacheFetches(cache.log, 0).lines;
            const [dt] = timed(() => {
                const built: { drvPath: string }[] = JSON.parse(must(sh("nix", ["build", "--no-link", "--json", ...installables(changed)], { env: nixEnv }), "nix build").stdout);
                const ev = evaluateAttrs(flake, SYSTEM, changed.map((id) => catalog.find((l) => l.id === id)!.attr), nixConfig);
                changed.forEach((id, i) => {
                    const attr = catalog.find((l) => l.id === id)!.attr;
                    must(sh("sh", ["-c", PUSH_SCRIPT], { env: { ...nixEnv, ...pushEnv(id, built[i].drvPath, (ev.get(attr) as Evaluated).copyTo?.drvPath),
                        LAYERSTACK_REPOSITORY: `${registry.address}/bench/fresh/${id}`, LAYERSTACK_TAG: `script${k}` } }), `push ${id}`);
                    must(sh("sh", ["-c", NIX_COPY_PUSH_SCRIPT], { env: { ...nixEnv, LAYERSTACK_DRV_PATH: built[i].drvPath, LAYERSTACK_CACHE_URL: cache.url,
                        LAYERSTACK_LAYER: id, LAYERSTACK_CACHE_SIGNING_KEY: signingKey } }), `cache push ${id}`);
                });
            });
            const got = cacheFetches(cache.log, from, cacheDir);
            log(`    script fetched: ${got.names.join(", ") || "nothing"}`);
            fetched.script.push({ bytes: got.bytes, nars: got.nars, need, deleted });
            scriptTimes.push(dt);
        },
    });
    void t;
    const [u, s] = [median(upTimes), median(scriptTimes)];
    const ratio = u / s;
    const bytes = (k: string) => fetched[k].map((f) => `${f.bytes} B in ${f.nars} NARs (dry run: ${f.need})`).join(", ");
    result({ name: "11. A merged pull request on a fresh machine: `pulumi up` ÷ (substitute + build + push the changed layers, as a plain script)",
        measured: `up ${secs(u)}; script ${secs(s)} (medians of ${upTimes.length}; ${changed.length} layers changed: ${CHANGED} and its descendants; ${fetched.up[0]?.deleted ?? 0} store paths deleted before each run); `
            + `fetched from the cache: up ${bytes("up")}; script ${bytes("script")}`,
        ratio: f2(ratio), goal: "≤ 1.3, fetching no more than the script", met: ratio <= 1.3 && median(fetched.up.map((f) => f.bytes)) <= median(fetched.script.map((f) => f.bytes)) ? "yes" : "NO" });
}
// ---------------------------------------------------------------- 9: the preview that says why

/**
 * What the "why" and the upload estimate (layerstack:explain: lib/contents.ts, lib/changeReport.ts)
 * add to a preview: two stacks of the 12-layer catalog, the same but for explain, previewed
 * alternately, unchanged and then after a one-package change of pak3's list (not applied).
 */
function whyCost(): void {
    const on = project("whyon", { "layerstack:repository": "bench/why-on", "layerstack:runChecks": "false" });
    const off = project("whyoff", { "layerstack:repository": "bench/why-off", "layerstack:runChecks": "false", "layerstack:explain": "false" });
    for (const p of [on, off]) {
        log(`why: ${p.stack}, cold up (setup)`);
        must(p.up(), `${p.stack}: cold up`);
    }
    const preview = (p: TestProject, args: string[]) => () => must(sh("pulumi", ["preview", ...args, "--stack", p.stack, "--non-interactive"], { cwd: p.dir, env: { ...p.env, PATH: withoutShims(p) } }), `${p.stack}: preview`);
    const row = (name: string, args: string[]) => {
        const t = alternate(reps(7), { on: preview(on, args), off: preview(off, args) });
        const [a, b] = [median(t.on), median(t.off)];
        const ratio = a / b;
        result({ name, measured: `preview with it ${secs(a)}, without (layerstack:explain false) ${secs(b)} (medians of ${t.on.length}, 12 layers)`,
            ratio: f2(ratio), goal: "≤ 1.10", met: ratio <= 1.1 ? "yes" : "NO" });
    };
    row("9. The why and the upload estimate: no-op preview ÷ the same without them", ["--expect-no-changes"]);
    for (const p of [on, off]) {
        const list = path.join(p.flakeDir, "files/pak3.txt");
        fs.writeFileSync(list, fs.readFileSync(list, "utf8").replace("numpy==2.3.1", "numpy==2.3.2"));
    }
    row("9b. … one-layer-change preview (a package of pak3's list) ÷ the same without them", []);
}

// ---------------------------------------------------------------- 10: the real closure's scale

/** Least-squares line through (xs, ys), with R². */
function linearFit(xs: number[], ys: number[]): { slope: number; icpt: number; r2: number } {
    const mx = xs.reduce((a, b) => a + b) / xs.length, my = ys.reduce((a, b) => a + b) / ys.length;
    const slope = xs.reduce((s, x, i) => s + (x - mx) * (ys[i] - my), 0) / xs.reduce((s, x) => s + (x - mx) ** 2, 0);
    const icpt = my - slope * mx;
    const ss = ys.reduce((s, y) => s + (y - my) ** 2, 0), res = ys.reduce((s, y, i) => s + (y - (icpt + slope * xs[i])) ** 2, 0);
    return { slope, icpt, r2: ss ? 1 - res / ss : 1 };
}

/** A node hook that appends this process's peak resident memory (VmHWM) and argv to a file at exit. */
function hwmHook(dir: string): string {
    const f = path.join(dir, "hwm.js");
    fs.writeFileSync(f, `process.on("exit", () => { try { const fs = require("fs"); const m = /VmHWM:\\s+(\\d+) kB/.exec(fs.readFileSync("/proc/self/status", "utf8"));
  fs.appendFileSync(process.env.LAYERSTACK_BENCH_HWM, JSON.stringify({ argv: process.argv.slice(1).join(" "), kb: Number(m[1]) }) + "\\n"); } catch (e) { } });\n`);
    return f;
}

/**
 * The catalog stack on a generated flake of about 1,000, 3,000 and 10,000 derivations
 * (bench/scaleDrv.ts), each cold-up'd once (setup). Per size, two states: no-op (after the up)
 * and a one-layer change (layer05's content: its package and 8 images are new). In each, five
 * contenders alternate: the preview; an empty program's preview; the program's exact `nix eval`;
 * Nix's own `nix build --dry-run` of every layer's `<drv>^*`; a fresh node process timing the
 * program's contents (lib/changeReport.ts contentsOf, cold) and then its forecast (runForecast).
 */
function scaleDrv(): void {
    const sizes = (process.env.BENCH_DRV_SIZES ?? "1000,3000,10000").split(",").map(Number);
    const catalog = megapakLayers();
    const attrs = [...new Set(catalog.map((l) => l.attr))];
    const holder = new TestProject("scaledrv-empty", { shims: false, passphrase: "layerstack-bench" });
    cleanup.push(() => holder.dispose());
    const empty = emptyProject(holder);
    cleanup.push(empty.dispose);
    const hooks = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-bench-hwm-"));
    cleanup.push(() => fs.rmSync(hooks, { recursive: true, force: true }));
    const hook = hwmHook(hooks);
    type M = { pv: number; ep: number; ev: number; dry: number; contents: number; forecast: number; mib: number; work: string; n: number };
    const got: Record<"noop" | "change", M[]> = { noop: [], change: [] };
    const stats: string[] = [];
    for (const n of sizes) {
        const dag = generateDag(n, attrs);
        const st = dagStats(dag);
        stats.push(`${n}: ${st.edges} edges, largest fan-in ${st.maxFanIn}, depth ${st.depth}`);
        const p = new TestProject(`scaledrv${n}`, { shims: false, passphrase: "layerstack-bench" });
        cleanup.push(() => p.dispose());
        writeScaleFlake(p.flakeDir, dag);
        p.init({ "layerstack:flake": `path:${p.flakeDir}`, "layerstack:registry": registry.address, "layerstack:repository": `bench/scaledrv${n}`,
            "layerstack:nixConfig": DEV_NIX_CONFIG, "layerstack:runChecks": "false" });
        const [tu] = timed(() => must(p.up(), `scale-drv ${n}: cold up`));
        const flake = `path:${p.flakeDir}`;
        const nixEnv = devNixEnv({ ...p.env });
        const closure = (drv: string) => must(sh("nix-store", ["--query", "--requisites", drv], { env: nixEnv }), "requisites").stdout.split("\n").filter((x) => x.endsWith(".drv")).length;
        const measure = (state: "noop" | "change", previewArgs: string[]) => {
            const ev = evaluateAttrs(flake, SYSTEM, attrs, DEV_NIX_CONFIG);
            const layers = catalog.map((l) => ({ id: l.id, ...(l.parent ? { parent: l.parent } : {}), drvPath: (ev.get(l.attr) as Evaluated).drvPath }));
            const probeEnv = { ...p.env, LAYERSTACK_PROBE: JSON.stringify({ layers, nixConfig: DEV_NIX_CONFIG }) };
            let probe = { contents: 0, forecast: 0, build: 0, fetch: 0 };
            const probes: { contents: number; forecast: number }[] = [];
            const t = alternate(reps(n >= 10000 ? 2 : 3), {
                preview: () => must(sh("pulumi", ["preview", ...previewArgs, "--stack", p.stack, "--non-interactive"], { cwd: p.dir, env: p.env }), `${n} ${state}: preview`),
                empty: () => must(empty.pulumi(["preview"]), "empty preview"),
                eval: () => must(sh("nix", nixEvalArgs(flake, attrs), { env: nixEnv }), "nix eval"),
                dry: () => must(sh("nix", ["build", "--dry-run", ...layers.map((l) => `${l.drvPath}^*`)], { env: nixEnv }), "nix build --dry-run"),
                probe: () => { probe = JSON.parse(must(sh("npx", ["ts-node", "--transpile-only", path.join(REPO, "bench/scaleProbe.ts")], { cwd: REPO, env: probeEnv }), "probe").stdout.trim().split("\n").pop()!); probes.push(probe); },
            });
            // Peak memory: one more preview (untimed) with a hook in every node process it starts.
            const hwm = path.join(hooks, `${n}-${state}.jsonl`);
            must(sh("pulumi", ["preview", ...previewArgs, "--stack", p.stack, "--non-interactive"], { cwd: p.dir, env: { ...p.env, NODE_OPTIONS: `--require ${hook}`, LAYERSTACK_BENCH_HWM: hwm } }), `${n} ${state}: preview (memory)`);
            const peaks = fs.readFileSync(hwm, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as { argv: string; kb: number });
            const program = peaks.filter((x) => /cmd\/run/.test(x.argv));
            const mib = Math.max(...(program.length ? program : peaks).map((x) => x.kb)) / 1024;
            const m: M = { pv: median(t.preview), ep: median(t.empty), ev: median(t.eval), dry: median(t.dry), contents: median(probes.map((x) => x.contents)),
                forecast: median(probes.map((x) => x.forecast)), mib, work: `${probe.build} to build, ${probe.fetch} to fetch`, n: t.preview.length };
            got[state].push(m);
            log(`scale-drv ${n} ${state}: ${JSON.stringify(m)}`);
        };
        const top = closure(must(sh("nix", nixEvalArgs(flake, ["layer12-comfyui"]), { env: nixEnv }), "eval").stdout.match(/\/nix\/store\/[^"]+\.drv/)![0]);
        log(`scale-drv: ${n} generated derivations (layer12's image closure ${top} .drv), cold up (setup) ${secs(tu)}`);
        stats[stats.length - 1] += `, layer12's image closure ${top} .drv`;
        measure("noop", ["--expect-no-changes"]);
        p.editFixtureLayer("layer05-pak3", { content: `pak3.txt plus one more package (scale-drv bench ${Date.now()})` });
        measure("change", []);
    }
    const at = sizes.indexOf(3000) >= 0 ? sizes.indexOf(3000) : sizes.length - 1;
    const ratioOf = (m: M) => m.pv / (m.ep + m.ev + m.dry);
    const breakdown = (m: M) => `preview ${secs(m.pv)} ÷ (empty ${secs(m.ep)} + nix eval ${secs(m.ev)} + dry run ${secs(m.dry)}); inside the program: contents ${secs(m.contents)}, forecast ${secs(m.forecast)} (${m.work}); the rest (engine, the read of the last outputs, resources) ${secs(m.pv - m.ep - m.ev - m.contents - m.forecast)}`;
    const growth = (ys: number[], unit: string) => { const { slope, icpt, r2 } = linearFit(sizes, ys); return { text: `fit ${icpt.toFixed(2)}${unit} + ${(slope * 1000).toFixed(2)}${unit} per 1,000 drv, R² ${r2.toFixed(3)}`, r2 }; };
    for (const [state, label, goal] of [["noop", "10a. Real-closure scale: no-op preview ÷ (empty preview + nix eval + nix's dry run)", 1.3], ["change", "10c. Real-closure scale: one-layer-change preview ÷ the same baseline", 1.3]] as const) {
        const ms = got[state];
        const g = growth(ms.map((m) => m.pv), " s");
        const ratio = ratioOf(ms[at]);
        result({ name: label, measured: sizes.map((n, i) => `${n}: ${f2(ratioOf(ms[i]))} (${breakdown(ms[i])})`).join("; ") + `; preview growth ${g.text} (medians of ${ms[0].n}; 10,000: ${ms[ms.length - 1].n})`,
            ratio: `${f2(ratio)} at ${sizes[at]}`, goal: `≤ ${goal} at 3,000; linear (R² ≥ 0.98)`, met: ratio <= goal && g.r2 >= 0.98 ? "yes" : "NO" });
    }
    for (const state of ["noop", "change"] as const) {
        const ms = got[state];
        const rs = ms.map((m) => m.forecast / m.dry);
        const g = growth(ms.map((m) => m.forecast), " s");
        result({ name: `10b. Real-closure scale: forecast ÷ Nix's own dry run (${state === "noop" ? "no-op" : "one-layer change"})`,
            measured: sizes.map((n, i) => `${n}: forecast ${secs(ms[i].forecast)} ÷ dry run ${secs(ms[i].dry)} = ${f2(rs[i])} (${ms[i].work})`).join("; ") + `; forecast growth ${g.text}`,
            ratio: `${f2(rs[at])} at ${sizes[at]}`, goal: "≤ 1.2; linear (R² ≥ 0.98)", met: rs.every((r) => r <= 1.2) && g.r2 >= 0.98 ? "yes" : "NO" });
    }
    for (const state of ["noop", "change"] as const) {
        const ms = got[state];
        const g = growth(ms.map((m) => m.mib), " MiB");
        result({ name: `10d. Real-closure scale: the program's peak memory (${state === "noop" ? "no-op" : "one-layer change"} preview)`,
            measured: sizes.map((n, i) => `${n}: ${ms[i].mib.toFixed(0)} MiB`).join("; ") + ` (VmHWM of the program's node process); ${g.text}; graphs: ${stats.join("; ")}`,
            ratio: `${ms[at].mib.toFixed(0)} MiB at ${sizes[at]}`, goal: "linear (R² ≥ 0.98)", met: g.r2 >= 0.98 ? "yes" : "NO" });
    }
}

// ---------------------------------------------------------------- main

// ---------------------------------------------------------------- 12: signing (issue 23)

/**
 * What signing costs per layer: the 12-layer catalog stack with a cosign key pair, cold (setup);
 * then, alternately, a no-op up and an up that signs every layer again (each layer's `.sig`
 * deleted first, so each `<id>-sign` runs: cosign sign, two attests, three verifies), whose
 * difference ÷ 12 is the time per layer. The blob read of `<id>-sbom-paths` runs once per new
 * digest and is timed from the cold up's own steps apart. Bytes added: every layer's `.sig` and
 * `.att` image (manifest, config and layers) as the registry stores it, beside the layer's own blob.
 */
function signCost(): void {
    const keys = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-bench-cosign-"));
    cleanup.push(() => fs.rmSync(keys, { recursive: true, force: true }));
    const password = "layerstack-bench";
    must(sh("cosign", ["generate-key-pair"], { cwd: keys, env: { ...process.env, COSIGN_PASSWORD: password } }), "cosign generate-key-pair");
    const p = project("sign", { "layerstack:repository": "bench/sign", "layerstack:runChecks": "false" });
    // A PEM starts with "-": written into the stack's file as a YAML string (test/e2e/signing.test.ts does the same).
    const file = path.join(p.dir, `Pulumi.${p.stack}.yaml`);
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/^config:\n/m, `config:\n  layerstack:signingPublicKey: ${JSON.stringify(fs.readFileSync(path.join(keys, "cosign.pub"), "utf8"))}\n`));
    must(p.pulumi(["config", "set", "--secret", "layerstack:signingKey"], { input: fs.readFileSync(path.join(keys, "cosign.key"), "utf8") }), "config set signingKey");
    must(p.pulumi(["config", "set", "--secret", "layerstack:signingKeyPassword"], { input: password }), "config set signingKeyPassword");
    log("sign: cold up of the signed 12-layer catalog stack (setup)");
    const [coldT] = timed(() => must(p.up(), "sign: cold up"));
    const out = p.outputs().layers as Record<string, { repository: string; digest: string; imageRef: string; ownBlobSize: number }>;
    const ids = Object.keys(out);
    const repoPath = (id: string) => out[id].repository.slice(registry.address.length + 1);
    const base = `http://${registry.address}/v2`;
    const dropSignatures = () => {
        for (const id of ids) {
            const head = sh("curl", ["-sSI", "-H", "Accept: application/vnd.oci.image.manifest.v1+json", `${base}/${repoPath(id)}/manifests/${out[id].digest.replace(":", "-")}.sig`]);
            const d = /docker-content-digest:\s*(\S+)/i.exec(head.stdout)?.[1];
            if (d) must(sh("curl", ["-sSf", "-X", "DELETE", `${base}/${repoPath(id)}/manifests/${d}`]), "delete a .sig");
        }
    };
    const env = { ...p.env, PATH: withoutShims(p) };
    const up = () => must(sh("pulumi", ["up", "--yes", "--skip-preview", "--stack", p.stack, "--non-interactive"], { cwd: p.dir, env }), "sign: up");
    const noop: number[] = [], resign: number[] = [];
    for (let r = 0; r < reps(3); r++) {
        dropSignatures();
        resign.push(timed(up)[0]);
        noop.push(timed(up)[0]);
        log(`  rep ${r + 1}: re-signing up ${secs(resign[r])}, no-op up ${secs(noop[r])}`);
    }
    const perLayer = (median(resign) - median(noop)) / ids.length;
    result({ name: "12. Signing: seconds per layer (cosign sign + attest SBOM and provenance + verify)", measured: `up re-signing all ${ids.length} layers ${secs(median(resign))} − no-op up ${secs(median(noop))}, ÷ ${ids.length} (medians of ${resign.length}); cold signed up ${secs(coldT)}`,
        ratio: f2(perLayer), goal: "≤ 3 s", met: perLayer <= 3 ? "yes" : "NO" });
    // The SBOM's blob read (once per new digest): OWN_STORE_PATHS_SCRIPT alone, per layer.
    const reads = ids.map((id) => timed(() => must(sh("sh", ["-c", OWN_STORE_PATHS_SCRIPT], { env: { ...devNixEnv(env), LAYERSTACK_LAYER: id, LAYERSTACK_IMAGE_REF: out[id].imageRef,
        LAYERSTACK_REPOSITORY_PATH: repoPath(id), LAYERSTACK_REGISTRY: registry.address, LAYERSTACK_TLS_VERIFY: "false" } }), `sbom paths ${id}`))[0]);
    result({ name: "12b. Signing: the SBOM's read of each layer's own blob (once per new digest)", measured: `median ${secs(median(reads))}, max ${secs(Math.max(...reads))} over ${ids.length} layers (own blobs ${ids.map((id) => out[id].ownBlobSize).reduce((x, y) => x + y, 0)} B in all)`,
        ratio: f2(median(reads)), goal: "≤ 1 s", met: median(reads) <= 1 ? "yes" : "NO" });
    // Bytes added: each layer's .sig and .att images as stored (manifest + config + layers).
    let added = 0;
    for (const id of ids) {
        for (const k of ["sig", "att"]) {
            const raw = must(sh("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${out[id].repository}:${out[id].digest.replace(":", "-")}.${k}`]), `inspect .${k}`).stdout;
            const m = JSON.parse(raw) as { config: { size: number }; layers: { size: number }[] };
            added += Buffer.byteLength(raw) + m.config.size + m.layers.reduce((x, l) => x + l.size, 0);
        }
    }
    const ownBytes = ids.reduce((x, id) => x + Number(out[id].ownBlobSize), 0);
    result({ name: "12c. Signing: bytes added to the registry per layer (its .sig and .att images)", measured: `${added} B for ${ids.length} layers; the layers' own blobs ${ownBytes} B (the fixture's are tiny: a real layer's are GiBs)`,
        ratio: `${(added / ids.length / 1024).toFixed(1)} KiB`, goal: "≤ 64 KiB", met: added / ids.length <= 64 * 1024 ? "yes" : "NO" });
}

function machine(): string {
    const cpu = os.cpus()[0]?.model ?? "unknown";
    return `nproc ${os.cpus().length} (${cpu}), memory ${(os.totalmem() / 2 ** 30).toFixed(1)} GiB, ${os.type()} ${os.release()}`;
}

/** The rows (benchmark numbers) each BENCH_ONLY part measures. */
const GROUPS: Record<string, string[]> = { noop: ["1"], change: ["3"], cold: ["2", "5"], scale: ["4"], large: ["6"], drift: ["7"], forecast: ["8"], why: ["9"], "scale-drv": ["10"], fresh: ["11"], sign: ["12"] };

/**
 * A partial run (BENCH_ONLY) keeps the rows it did not measure from the results file, and
 * says from which run they come.
 */
function carriedOver(file: string): { rows: string[]; from?: string } {
    if (ALL.every((k) => ONLY.includes(k)) || !fs.existsSync(file)) return { rows: [] };
    const measured = new Set(ONLY.flatMap((k) => GROUPS[k] ?? []));
    const old = fs.readFileSync(file, "utf8").split("\n");
    const group = (l: string) => /^\| (\d+)/.exec(l)![1];
    const rows = old.filter((l) => /^\| \d/.test(l) && !measured.has(group(l)));
    if (!rows.length) return { rows };
    // Where each kept row comes from: the old file's own run, or the run it carried it over from.
    const commit = old.find((l) => l.startsWith("- Commit:"))?.replace("- Commit: ", "");
    const date = old.find((l) => l.startsWith("- Date:"))?.replace("- Date: ", "");
    const carried = /^- This run measured (.*) only; the other rows are carried over from the run of (.*)$/.exec(old.find((l) => l.startsWith("- This run measured")) ?? "");
    const oldMeasured = carried ? new Set(carried[1].split(", ").flatMap((k) => GROUPS[k] ?? [])) : undefined;
    const sources = new Set(rows.map((l) => (oldMeasured && !oldMeasured.has(group(l)) ? carried![2] : `${commit}, ${date}`)));
    return { rows, from: [...sources].join("; and from the run of ") };
}

function write(totalS: number): void {
    const git = (a: string[]) => sh("git", a, { cwd: REPO }).stdout.trim();
    const commit = git(["rev-parse", "HEAD"]);
    const dirty = git(["status", "--porcelain", "--", ".", ":!bench"]) ? " (with uncommitted changes outside bench/)" : "";
    const file = process.env.BENCH_RESULTS ?? path.join(REPO, "bench/RESULTS.md");
    const kept = carriedOver(file);
    const table = [...kept.rows, ...rows.map((r) => `| ${r.name} | ${r.measured} | ${r.ratio} | ${r.goal} | ${r.met} |`)]
        .map((l, i) => ({ l, i, n: Number(/^\| (\d+)/.exec(l)![1]) }))
        .sort((a, b) => a.n - b.n || a.i - b.i)
        .map((x) => x.l);
    const lines = [
        "# Benchmarks",
        "",
        "Written by `npm run bench` (bench/run.ts); do not edit by hand. Contenders are measured side by",
        "side in one run, alternating within each repetition; values are medians.",
        "",
        `- Commit: \`${commit}\`${dirty}`,
        `- Machine: ${machine()}`,
        `- Date: ${new Date().toISOString()}; whole run ${(totalS / 60).toFixed(1)} min`,
        `- Tools: ${sh("pulumi", ["version"]).stdout.trim()}, ${sh("nix", ["--version"]).stdout.trim()} (NIX_REMOTE=${process.env.NIX_REMOTE ?? "auto"}), ${sh("skopeo", ["--version"]).stdout.trim()}`,
        ...(kept.from ? [`- This run measured ${ONLY.join(", ")} only; the other rows are carried over from the run of ${kept.from}`] : []),
        "",
        "| benchmark | measured | ratio | goal | met? |",
        "|---|---|---|---|---|",
        ...table,
        "",
        ...notes,
    ];
    fs.writeFileSync(file, lines.join("\n") + "\n");
    log(`wrote ${path.relative(REPO, file)}`);
}

async function main(): Promise<void> {
    registry.start();
    try {
        if (ONLY.includes("noop") || ONLY.includes("change")) noopAndChange();
        if (ONLY.includes("cold")) cold();
        if (ONLY.includes("scale")) scale();
        if (ONLY.includes("drift")) await drift();
        if (ONLY.includes("large")) await large();
        if (ONLY.includes("forecast")) forecastCost();
        if (ONLY.includes("why")) whyCost();
        if (ONLY.includes("fresh")) fresh();
        if (ONLY.includes("sign")) signCost();
        // Last: the 10,000-derivation size alone takes about 20 minutes here.
        if (ONLY.includes("scale-drv")) scaleDrv();
    } finally {
        for (const c of cleanup.reverse()) { try { c(); } catch { /* best effort */ } }
    }
    const total = (Date.now() - started) / 1000;
    console.log(`\n${printed.join("\n")}\nbench: ${(total / 60).toFixed(1)} min`);
    write(total);
}

main().catch((e) => { console.error(e); process.exit(1); });
