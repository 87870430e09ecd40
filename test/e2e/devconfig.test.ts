// The committed Pulumi.dev.yaml on the real engine: its project-local, signed file:// cache
// works as checked in (the dev passphrase decrypts the signing key, the relative URL lands
// under the project), every built layer's closure is in it, signed by the committed key,
// and the signing key's plaintext is nowhere in the backend.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO, TestProject, TestRegistry, must } from "../support/stack";

const registry = new TestRegistry(5403);
const project = new TestProject("dev", { passphrase: "layerstack-dev" });
const LAYERS = [
    { id: "layer01-base-cuda", attr: "layer01-base-cuda" },
    { id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda" },
];
const cacheDir = path.join(project.dir, ".layerstack", "nix-cache");
const committed = fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8");
const publicKey = /layerstack:cachePublicKey: (\S+)/.exec(committed)![1];

beforeAll(() => {
    registry.start();
    // A store path of this test's own (a nonce in the root layer).
    project.editFixtureLayer("layer01-base-cuda", { content: `base layer of the dev config test ${process.pid}-${Date.now()}` });
    fs.writeFileSync(path.join(project.dir, "Pulumi.dev.yaml"), committed);
    must(project.pulumi(["stack", "init"]), "stack init");
    // Only where the layers come from and go to changes; the cache keys stay as committed.
    project.setConfig("layerstack:flake", `path:${project.flakeDir}`);
    project.setConfig("layerstack:registry", registry.address);
    project.setConfig("layerstack:layers", LAYERS);
    project.setConfig("layerstack:runChecks", "false");
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

test("the committed dev config decrypts and names a project-local, signed cache", () => {
    expect(committed).toMatch(/layerstack:cache: nix-store\n/);
    expect(committed).toMatch(/layerstack:cacheUrl: file:\/\/\.\/\.layerstack\/nix-cache\n/);
    expect(committed).toMatch(/layerstack:cacheSigningKey:\n\s+secure: v1:/);
    const key = must(project.pulumi(["config", "get", "layerstack:cacheSigningKey"]), "config get").stdout.trim();
    expect(key).toMatch(/^layerstack-dev-1:[A-Za-z0-9+/=]{80,}$/);
    expect(publicKey).toMatch(/^layerstack-dev-1:[A-Za-z0-9+/]{43}=$/);
});

test("up pushes every layer's closure to the cache, signed by the committed key; the signing key stays out of the backend", () => {
    must(project.up(), "up");
    const outputs = project.outputs();
    expect(outputs.binaryCache).toEqual({ substituter: `file://${cacheDir}`, publicKeys: [publicKey] });
    for (const l of LAYERS) {
        const out = outputs.layers[l.id].outPath as string;
        const closure = spawnSync("nix-store", ["-qR", out], { env: project.nixEnv, encoding: "utf8" }).stdout.split("\n").filter(Boolean);
        expect(closure.length).toBeGreaterThan(0);
        const info = spawnSync("nix", ["--extra-experimental-features", "nix-command", "path-info", "-r", "--sigs", "--store", `file://${cacheDir}`, out], { env: project.nixEnv, encoding: "utf8" });
        expect(info.stderr).not.toMatch(/error/);
        const cached = new Map(info.stdout.split("\n").filter(Boolean).map((line) => { const [p, ...sigs] = line.trim().split(/\s+/); return [p, sigs]; }));
        expect([...cached.keys()].sort()).toEqual([...closure].sort());
        for (const [p, sigs] of cached) expect({ p, signed: sigs.some((s) => s.startsWith("layerstack-dev-1:")) }).toEqual({ p, signed: true });
    }
    // The signing key's plaintext (and its base64 part) is in no file of the backend.
    const key = must(project.pulumi(["config", "get", "layerstack:cacheSigningKey"]), "config get").stdout.trim();
    const secretPart = key.slice(key.indexOf(":") + 1);
    const files: string[] = [];
    const walk = (d: string) => { for (const e of fs.readdirSync(d, { withFileTypes: true })) (e.isDirectory() ? walk : (f: string) => files.push(f))(path.join(d, e.name)); };
    walk(project.stateDir);
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect({ f, leaked: fs.readFileSync(f, "utf8").includes(secretPart) }).toEqual({ f, leaked: false });
});

test("the committed dev key pair signs every layer: npm run verify passes with the committed public key, and the private key is in no file of the backend", () => {
    // scripts/verify.ts, which `npm run verify` runs, against this stack (its config: the committed public key).
    const r = spawnSync("node", ["-r", "ts-node/register", path.join(REPO, "scripts/verify.ts"), "--stack", "dev"], {
        cwd: project.dir, env: { ...project.env, TS_NODE_TRANSPILE_ONLY: "true", TS_NODE_PROJECT: path.join(REPO, "tsconfig.json") }, encoding: "utf8",
    });
    expect({ code: r.status, err: r.status === 0 ? "" : r.stderr + r.stdout }).toEqual({ code: 0, err: "" });
    for (const l of LAYERS) expect(r.stdout).toMatch(new RegExp(`^${l.id}\\s+sha256:\\S+\\s+ok\\s+ok\\s+ok$`, "m"));
    expect(committed).toMatch(/layerstack:signingPublicKey: \|\n\s+-----BEGIN PUBLIC KEY-----/);
    const key = must(project.pulumi(["config", "get", "layerstack:signingKey"]), "config get").stdout;
    expect(key).toContain("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----");
    const body = key.split("\n").filter((l) => l.length >= 40 && !l.startsWith("-----"));
    expect(body.length).toBeGreaterThan(2);
    for (const b of body) expect(project.filesContaining(b)).toEqual([]);
});
