// A library others can install: `npm pack` builds dist/ by itself (the prepack script), the
// tarball installs into a fresh Pulumi TypeScript program, which imports the components and
// their args types from "layerstack", declares a two-layer ImagePipeline on the fixture flake
// with the dev Nix settings, and `pulumi preview` of it succeeds on the real engine.
// The install is offline: the program's lockfile is seeded from this repository's, so npm
// takes every package from its cache (`npm install --offline`), the tarball from disk.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEV_NIX_CONFIG, REPO, testPortOffset } from "../support/stack";

const COMPONENTS = [
    "ImagePipeline", "NixImageLayer", "BinaryCache", "GithubActions", "GpuRunner", "TagPromotion",
    "LayerChecks", "RunnerChecks", "RegistryImage", "ImageRetention",
];
const ARGS = [
    "ImagePipelineArgs", "NixImageLayerArgs", "BinaryCacheArgs", "GithubActionsArgs", "GpuRunnerArgs", "TagPromotionArgs",
    "LayerChecksArgs", "RunnerChecksArgs", "RegistryImageArgs", "ImageRetentionArgs",
];

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-pack-"));
const program = path.join(tmp, "program");
let tarball = "";

function run(cmd: string, args: string[], cwd: string, env: NodeJS.ProcessEnv = process.env) {
    const r = spawnSync(cmd, args, { cwd, env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
    if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
    return r.stdout;
}

beforeAll(() => {
    const packed = JSON.parse(run("npm", ["pack", "--json", "--pack-destination", tmp], REPO)) as { filename: string }[];
    tarball = path.join(tmp, packed[0].filename);
});
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

test("npm pack builds dist/ itself: the library and its types, no program, no tests, no sources", () => {
    const files = execFileSync("tar", ["-tzf", tarball], { encoding: "utf8" }).trim().split("\n").map((f) => f.replace(/^package\//, ""));
    for (const f of ["dist/layerstack.js", "dist/layerstack.d.ts", "dist/components/gpuRunner.d.ts", "dist/settings/index.js", "dist/layers/packages/pak3.txt", "package.json"]) {
        expect(files).toContain(f);
    }
    expect(files.filter((f) => /\.test\./.test(f) || f === "dist/index.js" || (!f.startsWith("dist/") && f.endsWith(".ts")))).toEqual([]);
    const pkg = JSON.parse(execFileSync("tar", ["-xzOf", tarball, "package/package.json"], { encoding: "utf8" }));
    expect([pkg.main, pkg.types]).toEqual(["dist/layerstack.js", "dist/layerstack.d.ts"]);
});

test("a fresh Pulumi program installs the tarball, imports every component, and previews a two-layer pipeline", () => {
    fs.mkdirSync(program);
    const repoPkg = JSON.parse(fs.readFileSync(path.join(REPO, "package.json"), "utf8"));
    const pkg = {
        name: "layerstack-user", version: "1.0.0", private: true,
        dependencies: { ...repoPkg.dependencies, layerstack: `file:${tarball}` },
        devDependencies: { typescript: repoPkg.devDependencies.typescript, "ts-node": repoPkg.devDependencies["ts-node"], "@types/node": repoPkg.devDependencies["@types/node"] },
    };
    fs.writeFileSync(path.join(program, "package.json"), JSON.stringify(pkg, null, 2));
    // Seeded from this repository's lockfile: every version is known, so npm needs no registry.
    const lock = JSON.parse(fs.readFileSync(path.join(REPO, "package-lock.json"), "utf8"));
    lock.name = pkg.name;
    lock.packages[""] = { name: pkg.name, version: pkg.version, dependencies: pkg.dependencies, devDependencies: pkg.devDependencies };
    fs.writeFileSync(path.join(program, "package-lock.json"), JSON.stringify(lock, null, 2));
    run("npm", ["install", "--offline", "--no-audit", "--no-fund", "--ignore-scripts"], program);

    // Every component is a class the entry exports.
    const kinds = JSON.parse(run("node", ["-e", `const l = require("layerstack"); console.log(JSON.stringify(${JSON.stringify(COMPONENTS)}.map((n) => typeof l[n])))`], program));
    expect(kinds).toEqual(COMPONENTS.map(() => "function"));

    fs.writeFileSync(path.join(program, "Pulumi.yaml"), "name: layerstack-user\nruntime:\n  name: nodejs\n  options:\n    typescript: true\nmain: index.ts\n");
    // Type-checked by Pulumi's ts-node: every args type must be exported by the entry.
    fs.writeFileSync(path.join(program, "tsconfig.json"), JSON.stringify({
        compilerOptions: { strict: true, target: "ES2022", module: "commonjs", moduleResolution: "node", esModuleInterop: true, skipLibCheck: true, types: ["node"] },
        include: ["index.ts"],
    }));
    fs.writeFileSync(path.join(program, "index.ts"), `import { ImagePipeline, ${ARGS.join(", ")} } from "layerstack";

type AllArgs = [${ARGS.join(", ")}];
const args: ImagePipelineArgs = {
    flake: ${JSON.stringify(`path:${path.join(REPO, "fixtures/megapak")}`)},
    registry: "127.0.0.1:${6050 + testPortOffset()}",
    repository: "layerstack-user/megapak",
    layers: [{ id: "base", attr: "layer01-base-cuda" }, { id: "python", attr: "layer02-python-tools", parent: "base" }],
    nixConfig: ${JSON.stringify(DEV_NIX_CONFIG)},
};
const pipeline = new ImagePipeline("two", args);
export const layers = pipeline.layers;
export const argsTypes: AllArgs["length"] = ${ARGS.length};
`);
    const state = path.join(tmp, "state");
    fs.mkdirSync(state);
    const env: NodeJS.ProcessEnv = {
        ...process.env, PULUMI_BACKEND_URL: `file://${state}`, PULUMI_CONFIG_PASSPHRASE: "layerstack-user",
        LAYERSTACK_DEV_TOOLCHAIN: "1", LAYERSTACK_RUN_TABLE: "0",
    };
    delete env.PULUMI_CONFIG_PASSPHRASE_FILE;
    run("pulumi", ["stack", "init", "user", "--non-interactive"], program, env);
    const preview = JSON.parse(run("pulumi", ["preview", "--stack", "user", "--non-interactive", "--json"], program, env)) as { steps: { op: string; urn: string }[] };
    const created = preview.steps.filter((s) => s.op === "create").map((s) => s.urn.split("::").slice(-2).join("::"));
    expect(created).toEqual(expect.arrayContaining([
        "layerstack:index:ImagePipeline::two",
        "layerstack:index:ImagePipeline$layerstack:index:NixImageLayer::base",
        "layerstack:index:ImagePipeline$layerstack:index:NixImageLayer::python",
        "layerstack:index:ImagePipeline$layerstack:index:NixImageLayer$command:local:Command::base-build",
        "layerstack:index:ImagePipeline$layerstack:index:NixImageLayer$command:local:Command::python-push",
    ]));
    expect(created.filter((u) => u.includes("NixImageLayer::"))).toHaveLength(2);
});
