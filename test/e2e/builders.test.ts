// Builds on a Nix remote builder, on the real engine: a second machine with its own store
// (test/support/nixBuilder.ts: Debian's sshd on 127.0.0.1 in a mount namespace whose /nix is
// the builder's), reached as `ssh-ng://` with a throwaway key and a pinned host key. The stack
// with builders runs its builds with `max-jobs = 0`, so this machine's Nix cannot build at all.
// A second, local-only stack builds the same change here; its images must be the same.
//
// The tests build on each other: cold ups (everything is valid here, the builder is not
// asked), a one-layer change (built there, copied back, nothing built here), the same change
// built locally (same digests), and another host key pinned (refused, nothing built).
//
// Through a daemon, as a host runs Nix: the daemon runs the build hook and its ssh, with its
// own environment, so the sshd's port (a production builder listens on 22) is given to the
// daemon, as a host gives it root's ssh config (NixBuilderHost.sshOpts). The stack is root,
// a trusted user: `builders` is a restricted setting (src/libstore/daemon.cc).
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ArgvSampler } from "../support/argv";
import { NixBuilderHost } from "../support/nixBuilder";
import { TestNixDaemon } from "../support/nixDaemon";
import { DEV_NIX_CONFIG, Run, TestProject, TestRegistry, must } from "../support/stack";

const builder = new NixBuilderHost(5951);
const registry = new TestRegistry(5952);
const remote = new TestProject("builders", { shims: true });
const local = new TestProject("local", { shims: true });
const daemon = new TestNixDaemon({ env: { NIX_SSHOPTS: builder.sshOpts } });
const LAYERS = [
    { id: "layer01-base-cuda", attr: "layer01-base-cuda" },
    { id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", attr: "layer03-gcc15", parent: "layer02-python-tools" },
];
const CHANGED = "layer02-python-tools";
const nonce = `${process.pid}-${Date.now()}`;
// The remote stack's private directories (mktemp -d) land here, so leftovers can be looked for.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-builders-tmp-"));
const keyBody = () => builder.privateKey.split("\n")[1];
let cold: Record<string, any>;
let changed: Record<string, any>;
let expectedDrvs: string[];

// This machine's store, as the harness's own Nix calls see it (the local stack's settings).
const nix = (argv: string[]) => local.nix(argv);
const outputOf = (drv: string) => local.outputsOf(drv);
const localInfo = (paths: string[]) => local.pathInfo(paths);

/** Private directories of the builders script (lib/commands/builders.ts) still holding a key file. */
const keyFilesLeft = () => fs.readdirSync(tmp).filter((d) => fs.existsSync(path.join(tmp, d, "ssh-key")));

/** A command's environment as the state holds it, secrets shown (`{<sig>, plaintext: <JSON>}`). */
function stateEnv(name: string): Record<string, any> {
    const resources = JSON.parse(must(remote.pulumi(["stack", "export", "--show-secrets"]), "stack export").stdout).deployment.resources as any[];
    return resources.find((r) => r.urn.endsWith(`::${name}`)).inputs.environment;
}

async function up(p: TestProject, extra: string[] = []): Promise<{ run: Run; sampler: ArgvSampler }> {
    const sampler = new ArgvSampler({ "builder SSH key": keyBody() });
    sampler.start();
    try {
        return { run: await p.pulumiAsync(["up", "--yes", "--skip-preview", ...extra]).done, sampler };
    } finally {
        sampler.stop();
    }
}

beforeAll(() => {
    registry.start();
    builder.start();
    for (const p of [remote, local]) p.editFixtureLayer("layer01-base-cuda", { content: `base layer of the builders test ${nonce}` });
    local.initFor(registry, { "layerstack:layers": LAYERS, "layerstack:runChecks": "false", "layerstack:repository": "local/megapak" });
    remote.initFor(registry, {
        "layerstack:layers": LAYERS, "layerstack:runChecks": "false", "layerstack:repository": "remote/megapak",
        // This machine's Nix may build nothing itself.
        "layerstack:nixConfig": `${DEV_NIX_CONFIG}max-jobs = 0\n`,
        "layerstack:nixBuilders": `${builder.uri} x86_64-linux - 4 1`,
        "layerstack:nixBuildersHostKeys": { "127.0.0.1": builder.hostKey },
    }, { "layerstack:nixBuildersSshKey": builder.privateKey });
    daemon.start();
    Object.assign(remote.env, daemon.clientEnv);
    remote.env.TMPDIR = tmp;
});
afterAll(() => {
    daemon.dispose();
    builder.dispose();
    registry.dispose();
    remote.dispose();
    local.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("cold: the local stack builds here; the stack with builders finds every layer built and asks the builder for nothing", async () => {
    must(local.up(), "local: cold up");
    const { run } = await up(remote);
    must(run, "builders: cold up");
    cold = remote.outputs().layers;
    const localLayers = local.outputs().layers;
    for (const l of LAYERS) expect(cold[l.id].digest).toBe(localLayers[l.id].digest);
    expect(builder.builtDerivations()).toEqual([]);
    // Nothing to realise, so Nix's build hook never connected.
    expect(builder.logins()).toBe(0);
    // The builds' Nix settings: no building here, and the machine with its pinned host key.
    const env = stateEnv(`${CHANGED}-build`);
    expect(env.LAYERSTACK_NIX_CONFIG).toBe(`${DEV_NIX_CONFIG}max-jobs = 0`.trim());
    expect(env.LAYERSTACK_NIX_BUILDERS).toBe(`${builder.uri} x86_64-linux - 4 1 - - ${Buffer.from(builder.hostKey).toString("base64")}`);
});

test("a one-layer change is built in the builder's store and copied back; this machine builds none of it", async () => {
    for (const p of [remote, local]) p.editFixtureLayer(CHANGED, { content: `Python 3.14 and one more tool (${nonce})` });
    // What changes, independently of the stack: the layer's package, its blob, its image, and the
    // image of the layer above (it holds the new blob). Read from the fixture flake's build inputs.
    const ev = JSON.parse(must(nix(["nix", "eval", "--json", `path:${remote.flakeDir}#legacyPackages.x86_64-linux`, "--apply",
        `lp: [ lp.pkgs.${CHANGED}.drvPath lp.blobs.${CHANGED}.drvPath ]`]), "nix eval").stdout) as string[];
    const { run, sampler } = await up(remote);
    must(run, "builders: up after the change");
    changed = remote.outputs().layers;
    expect(changed["layer01-base-cuda"]).toEqual(cold["layer01-base-cuda"]);
    expectedDrvs = [...ev, changed[CHANGED].drvPath, changed["layer03-gcc15"].drvPath].sort();
    for (const id of [CHANGED, "layer03-gcc15"]) expect(changed[id].drvPath).not.toBe(cold[id].drvPath);

    // The builder's Nix built exactly these, and holds their outputs as built there (`ultimate`:
    // made by that store, src/libstore/build/local-derivation-goal.cc registerOutputs).
    expect(builder.builtDerivations()).toEqual(expectedDrvs);
    const outputs = expectedDrvs.flatMap(outputOf);
    for (const o of outputs) expect(builder.hasPath(o)).toBe(true);
    const there = builder.pathInfo(outputs, local.nixEnv);
    expect(there.map((i) => [i.path, i.valid ?? true, i.ultimate ?? false])).toEqual(outputs.map((o) => [o, true, true]).sort());
    // Here they are valid, copied: a copy is never `ultimate` (store-api.cc copyStorePath).
    expect(localInfo(outputs).map((i) => [i.path, i.valid ?? true, i.ultimate ?? false])).toEqual(outputs.map((o) => [o, true, false]).sort());
    // The forecast, taken before the builds, named the same derivations.
    const forecast = remote.outputs().forecast;
    expect(forecast["layer01-base-cuda"].status).toBe("unchanged");
    expect([...new Set([...forecast[CHANGED].build, ...forecast["layer03-gcc15"].build])].sort()).toEqual(expectedDrvs);
    expect(builder.logins()).toBeGreaterThan(0);

    // The key: in no argv (sampled, and the shims' log), no output, no state, no leftover file.
    expect(sampler.hits).toEqual([]);
    expect(sampler.samples).toBeGreaterThan(5);
    expect(run.stdout + run.stderr).not.toContain(keyBody());
    expect(fs.readFileSync(remote.argvLog, "utf8")).not.toContain(keyBody());
    expect(remote.filesContaining(keyBody())).toEqual([]);
    expect(keyFilesLeft()).toEqual([]);
    expect(remote.filesContaining(keyBody(), tmp)).toEqual([]);
});

test("the images published are identical to a local build's: the same change built here has the same digests", () => {
    // The remote build's outputs leave this store, so the local stack must build them itself.
    must(nix(["nix-store", "--delete", ...expectedDrvs.flatMap(outputOf)]), "nix-store --delete");
    const before = local.argvCount();
    must(local.up(), "local: up after the change");
    const mine = local.outputs().layers;
    for (const l of LAYERS) {
        expect(mine[l.id].drvPath).toBe(changed[l.id].drvPath);
        expect(mine[l.id].digest).toBe(changed[l.id].digest);
    }
    expect(mine[CHANGED].digest).not.toBe(cold[CHANGED].digest);
    // Built here this time (`ultimate`), and the builder was not involved.
    const outputs = expectedDrvs.flatMap(outputOf);
    expect(localInfo(outputs).every((i) => i.ultimate === true)).toBe(true);
    expect(builder.builtDerivations()).toEqual(expectedDrvs);
    // (Each build's `--dry-run` first, which realises nothing: lib/commands/layer.ts BUILD_SCRIPT.)
    expect(local.argv(before).filter((a) => a[0] === "nix-store" && a[1] === "--realise" && !a.includes("--dry-run")).map((a) => a[a.length - 1]).sort())
        .toEqual([mine[CHANGED].drvPath, mine["layer03-gcc15"].drvPath, mine[CHANGED].drvPath, mine["layer03-gcc15"].drvPath].sort());
});

test("a builder that presents another host key is refused: the build fails, nothing is built there or here", async () => {
    remote.setConfig("layerstack:nixBuildersHostKeys", { "127.0.0.1": builder.otherHostKey });
    remote.editFixtureLayer(CHANGED, { content: `Python 3.14, changed once more (${nonce})` });
    const logins = builder.logins();
    const { run, sampler } = await up(remote);
    expect(run.code).not.toBe(0);
    const out = run.stdout + run.stderr;
    // Through a daemon, the build hook's ssh writes to the daemon's log; the build names the builder.
    expect(out).toContain(`cannot build on '${builder.uri}': error: failed to start SSH connection to '${builder.uri.slice("ssh-ng://".length)}'`);
    expect(daemon.log()).toContain("Host key verification failed");
    // With max-jobs = 0 and no usable machine, Nix refuses to build here (build-remote.cc declines,
    // NixOS/nix 2.26.3 src/libstore/build/worker.cc then has no way to build; its words, on two lines).
    expect(out).toMatch(/Unable to start any build;\s+remote machines may not have all required system features\./);
    expect(builder.logins()).toBe(logins);
    expect(builder.builtDerivations()).toEqual(expectedDrvs);
    expect(out).not.toContain(keyBody());
    expect(sampler.hits).toEqual([]);
    expect(keyFilesLeft()).toEqual([]);

    // The right key again: the change is built there.
    remote.setConfig("layerstack:nixBuildersHostKeys", { "127.0.0.1": builder.hostKey });
    must((await up(remote)).run, "builders: up with the right host key");
    const now = remote.outputs().layers;
    expect(builder.builtDerivations()).toEqual(expect.arrayContaining([now[CHANGED].drvPath, now["layer03-gcc15"].drvPath]));
    expect(builder.builtDerivations()).toHaveLength(expectedDrvs.length + 4);
});

test("the builders' key is a secret in the stack's config and state", () => {
    const cfg = fs.readFileSync(path.join(remote.dir, "Pulumi.builders.yaml"), "utf8");
    expect(cfg).toMatch(/layerstack:nixBuildersSshKey:\n\s+secure: /);
    expect(cfg).not.toContain(keyBody());
    // In the state, the key is encrypted (the rest of the build's environment stays readable).
    const build = remote.resources().find((r) => r.urn.endsWith(`::${CHANGED}-build`));
    expect(Object.keys(build.inputs.environment.LAYERSTACK_NIX_BUILDERS_SSH_KEY).sort()).toEqual(["4dabf18193072939515e22adb298388d", "ciphertext"]);
    expect(build.inputs.environment.LAYERSTACK_DRV_PATH).toBe(remote.outputs().layers[CHANGED].drvPath);
    // (`pulumi config set` drops the file's last newline; the build's script writes one again.)
    expect(JSON.parse(stateEnv(`${CHANGED}-build`).LAYERSTACK_NIX_BUILDERS_SSH_KEY.plaintext)).toBe(builder.privateKey.trimEnd());
});
