// The binary cache end to end: a project-local, signed `file://` cache on the real engine.
// Every layer's closure lands in the cache, a fresh Nix store substitutes a layer from it
// (building is made impossible), the layers' own builds substitute from it, and a cache
// outage fails `up` naming the cache and the layer without corrupting the state.
//
// The stack runs as a user the Nix daemon does not trust, as on a GPU host: the suite's daemon
// lists the cache in trusted-substituters, with its key. A daemon that does not is named.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { TestNixDaemon } from "../support/nixDaemon";
import { DEV_NIX_CONFIG, devNixEnv, TestProject, TestRegistry, must } from "../support/stack";
import { untrustedUser } from "../support/testUser";

const registry = new TestRegistry(5401);
const project = new TestProject("cache", { shims: true, user: untrustedUser() });
let daemon: TestNixDaemon;
const LAYERS = [
    { id: "layer01-base-cuda", attr: "layer01-base-cuda" },
    { id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", attr: "layer03-gcc15", parent: "layer02-python-tools", format: "docker-archive" },
];
const LEAF = "layer03-gcc15";
const KEY_NAME = "layerstack-e2e-1";
const cacheDir = path.join(project.dir, "binary-cache");
const CACHE_URL = `file://${cacheDir}`;
const keyDir = path.join(project.dir, "keys");
let secretKey = "";
let publicKey = "";
let layers: Record<string, any>;

/** Runs nix (or nix-store) with the test's environment; never throws. */
const nix = (prog: "nix" | "nix-store", args: string[], env?: NodeJS.ProcessEnv) => project.nix([prog, ...args], env);
const closure = (outPath: string) => nix("nix-store", ["-qR", outPath]).stdout.split("\n").filter(Boolean).sort();
/** `path sig sig...` per path of the closure as the cache has it. */
function cachedSigs(outPath: string): Map<string, string[]> {
    const r = nix("nix", ["path-info", "-r", "--sigs", "--store", CACHE_URL, outPath]);
    if (r.code !== 0) throw new Error(`nix path-info --store ${CACHE_URL} ${outPath}: ${r.stderr}`);
    return new Map(r.stdout.split("\n").filter(Boolean).map((l) => { const [p, ...sigs] = l.trim().split(/\s+/); return [p, sigs]; }));
}
const urnOf = (name: string) => project.resources().find((r) => r.urn.endsWith(`::${name}`))!.urn;

beforeAll(() => {
    registry.start();
    fs.mkdirSync(keyDir);
    execFileSync("nix-store", ["--generate-binary-cache-key", KEY_NAME, path.join(keyDir, "secret"), path.join(keyDir, "public")], { env: devNixEnv() });
    secretKey = fs.readFileSync(path.join(keyDir, "secret"), "utf8").trim();
    publicKey = fs.readFileSync(path.join(keyDir, "public"), "utf8").trim();
    fs.rmSync(path.join(keyDir, "secret")); // from here on the secret key lives only in the stack's secret config
    project.binaryCacheDir(cacheDir);
    daemon = new TestNixDaemon({ extra: `trusted-substituters = ${CACHE_URL}\ntrusted-public-keys = ${publicKey}` });
    daemon.start();
    Object.assign(project.env, daemon.clientEnv);
    // Store paths of this test's own (a nonce in the root layer), so deleting one touches no other test.
    project.editFixtureLayer("layer01-base-cuda", { content: `base layer of the cache test ${process.pid}-${Date.now()}` });
    project.initFor(registry, {
        "layerstack:layers": LAYERS,
        "layerstack:runChecks": "false",
        "layerstack:cache": "nix-store",
        "layerstack:cacheUrl": CACHE_URL,
        "layerstack:cachePublicKey": publicKey,
    }, { "layerstack:cacheSigningKey": secretKey });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
    daemon?.dispose();
});

test("after up, every layer's closure is in the cache, signed with the stack's key, which is nowhere in clear", () => {
    const r = must(project.up(), "pulumi up");
    layers = project.outputs().layers;
    expect(Object.keys(layers).sort()).toEqual(LAYERS.map((l) => l.id).sort());
    for (const l of Object.values<any>(layers)) {
        const local = closure(l.outPath);
        expect(local.length).toBeGreaterThan(0);
        const cached = cachedSigs(l.outPath);
        expect([...cached.keys()].sort()).toEqual(local);
        for (const sigs of cached.values()) expect(sigs.some((s) => s.startsWith(`${KEY_NAME}:`))).toBe(true);
    }
    // The builds and pushes were told to substitute from the cache and to trust its key.
    const res = project.resources();
    for (const id of Object.keys(layers)) {
        for (const child of [`${id}-build`, `${id}-push`]) {
            const cfg = res.find((x) => x.urn.endsWith(`::${child}`)).inputs.environment.LAYERSTACK_NIX_CONFIG;
            // The stack's own settings (the dev stack's layerstack:nixConfig), then the cache's.
            expect(cfg).toBe(`${DEV_NIX_CONFIG.trim()}\nextra-substituters = ${CACHE_URL}\nextra-trusted-public-keys = ${publicKey}`);
        }
        expect(res.find((x) => x.urn.endsWith(`::cache-push-${id}`)).dependencies).toContain(urnOf(`${id}-build`));
    }
    // The signing key: not in the backend (state, backups, history), output, or any argv.
    const secretPart = secretKey.split(":")[1];
    const grep = spawnSync("grep", ["-rlF", secretPart, project.stateDir], { encoding: "utf8" });
    expect(grep.stdout).toBe("");
    expect(r.stdout + r.stderr).not.toContain(secretPart);
    expect(fs.readFileSync(project.argvLog, "utf8")).not.toContain(secretPart);
});

test("a fresh Nix store substitutes a layer from the cache, with building made impossible", () => {
    const { drvPath, outPath } = layers[LEAF];
    const substitute = (store: string, trusted: string) => {
        // The derivation (not its output) goes into the empty store, then the output is
        // realised with --max-jobs 0: no local build can run, so only substitution can succeed.
        must({ ...nix("nix", ["copy", "--derivation", "--no-check-sigs", "--to", store, drvPath]) }, "nix copy --derivation");
        expect(fs.existsSync(path.join(store, outPath))).toBe(false);
        return nix("nix", ["build", "--store", store, "--max-jobs", "0", "--no-link",
            // The derivation's outputs: a bare .drv is the file itself since Nix 2.15 (rl-2.15.md).
            "--option", "substituters", CACHE_URL, "--option", "trusted-public-keys", trusted, `${drvPath}^*`]);
    };
    const fresh = path.join(project.dir, "fresh-store");
    const ok = substitute(fresh, publicKey);
    expect(ok.stderr).not.toContain("unable to start any build");
    expect(ok.code).toBe(0);
    expect(ok.stderr).toContain(`copying path '${outPath}' from '${CACHE_URL}'`);
    expect(fs.existsSync(path.join(fresh, outPath))).toBe(true);
    // The control: the same cache, with its key not trusted, substitutes nothing.
    const untrusted = substitute(path.join(project.dir, "untrusted-store"), `${KEY_NAME}:${"A".repeat(43)}=`);
    expect(untrusted.code).not.toBe(0);
    // Nix 2.26's words (src/libstore/build/substitution-goal.cc).
    expect(untrusted.stderr).toContain(`ignoring substitute for '${outPath}' from '${CACHE_URL}', as it's not signed by any of the keys in 'trusted-public-keys'`);
});

test("a layer's build substitutes from the cache: its output deleted, a rebuild with --max-jobs 0 succeeds", () => {
    const { outPath } = layers[LEAF];
    must(nix("nix-store", ["--delete", outPath]), "nix-store --delete");
    expect(fs.existsSync(outPath)).toBe(false);
    const saved = project.env.NIX_CONFIG;
    project.env.NIX_CONFIG = `${saved ?? ""}\nmax-jobs = 0`;
    try {
        must(project.up(["--replace", urnOf(`${LEAF}-build`)]), "up --replace the leaf's build, building disabled");
    } finally {
        project.env.NIX_CONFIG = saved;
    }
    expect(fs.existsSync(outPath)).toBe(true);
    expect(project.outputs().layers).toEqual(layers);
});

test("a cache outage fails up naming the cache and the layer; with the cache back, the next up completes", () => {
    project.editFixtureLayer(LEAF, { content: "GCC 15 (gcc, g++), rebuilt while the cache is down" });
    // The outage: the cache's directory replaced by a file, so nothing can be written to it.
    const aside = `${cacheDir}.aside`;
    fs.renameSync(cacheDir, aside);
    fs.writeFileSync(cacheDir, "not a binary cache\n");
    let r;
    try {
        r = project.up();
    } finally {
        fs.rmSync(cacheDir);
        fs.renameSync(aside, cacheDir);
    }
    expect(r.code).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toContain(`binary cache: pushing layer ${LEAF}`);
    expect(out).toContain(`to cache ${CACHE_URL} failed`);
    // The state is consistent: no pending operation, no record of the failed push, and the
    // unchanged layers' pushes are as they were.
    const deployment = JSON.parse(must(project.pulumi(["stack", "export"]), "stack export").stdout).deployment;
    expect(deployment.pending_operations ?? []).toEqual([]);
    const newDrv = deployment.resources.find((x: any) => x.urn.endsWith(`::${LEAF}-build`)).inputs.triggers[0];
    expect(newDrv).not.toBe(layers[LEAF].drvPath);
    const leafPush = deployment.resources.find((x: any) => x.urn.endsWith(`::cache-push-${LEAF}`));
    expect(leafPush?.inputs.triggers[0]).not.toBe(newDrv);

    must(project.up(), "pulumi up with the cache back");
    const after = project.outputs().layers;
    expect(after[LEAF].drvPath).toBe(newDrv);
    expect([...cachedSigs(after[LEAF].outPath).keys()].sort()).toEqual(closure(after[LEAF].outPath));
    must(project.up(["--expect-no-changes"]), "up --expect-no-changes");
});

test("a cache the daemon does not trust is named in the preview, with the daemon settings to add", () => {
    // The dev daemon's settings and nothing more: no trusted-substituters.
    const untrusting = new TestNixDaemon();
    untrusting.start();
    const saved = project.env.NIX_DAEMON_SOCKET_PATH;
    project.env.NIX_DAEMON_SOCKET_PATH = untrusting.socket;
    try {
        const r = must(project.pulumi(["preview"]), "preview against a daemon that does not trust the cache");
        const out = r.stdout + r.stderr;
        expect(out).toContain(`binary cache ${CACHE_URL}: the Nix daemon ignores it, because this user is not in its trusted-users, so nothing is substituted from it and every path it holds is built from source.`);
        expect(out).toContain(`extra-trusted-substituters = ${CACHE_URL}`);
        expect(out).toContain(`extra-trusted-public-keys = ${publicKey}`);
    } finally {
        project.env.NIX_DAEMON_SOCKET_PATH = saved;
        untrusting.dispose();
    }
    // With the suite's daemon, which trusts it, nothing is said.
    const r = must(project.pulumi(["preview"]), "preview");
    expect(r.stdout + r.stderr).not.toContain("the Nix daemon ignores it");
});
