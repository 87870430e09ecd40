// Faults on the real engine, each on its own stack and registry: a broken build, a build
// timeout, the registry going down mid-up, a killed `pulumi up`, and idempotence.
// The stacks use five fixture layers (a chain: 01 -> 02 -> 03 -> 04 -> 05); layer03 is the
// middle one, so 01 and 02 are "not beneath it" and 03, 04, 05 are it and its descendants.
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { REPO, TestProject, TestRegistry, must } from "../support/stack";

const REPO_PATH = "layerstack/megapak";
const LAYERS = [
    { id: "layer01-base-cuda" },
    { id: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", parent: "layer02-python-tools", format: "docker-archive" },
    { id: "layer04-pytorch", parent: "layer03-gcc15" },
    { id: "layer05-pak3", parent: "layer04-pytorch" },
];
const MIDDLE = "layer03-gcc15";
const ABOVE = ["layer01-base-cuda", "layer02-python-tools"];
const BENEATH = ["layer03-gcc15", "layer04-pytorch", "layer05-pak3"];
const ALL = [...ABOVE, ...BENEATH];
const nonce = () => `fault ${crypto.randomBytes(6).toString("hex")}`;

/** A fresh stack of the five layers on its own registry, for one describe block (made in beforeAll). */
function setup(stack: string, port: number, config: Record<string, string | object> = {}) {
    const it = {} as { registry: TestRegistry; project: TestProject };
    beforeAll(() => {
        it.registry = new TestRegistry(port);
        it.project = new TestProject(stack, { shims: true });
        it.registry.start();
        it.project.initFor(it.registry, {
            "layerstack:layers": LAYERS,
            ...config,
        });
    });
    afterAll(() => { it.registry?.dispose(); it.project?.dispose(); });
    return it;
}

/** Layer ids that skopeo copied to (from the shims' argv log, since line `from`). */
function copiedLayers(project: TestProject, from: number): string[] {
    return project.argv(from).filter((a) => a[0] === "skopeo" && a[1] === "copy" && a[a.length - 1].startsWith("docker://"))
        .map((a) => new RegExp(`/${REPO_PATH}/([^/:]+):`).exec(a[a.length - 1])![1]).sort();
}
/** Layer ids whose manifests the registry accepted since access-log line `from`. */
function pushedLayers(registry: TestRegistry, from: number): string[] {
    return registry.manifestPuts(from).map((p) => p.slice(REPO_PATH.length + 1).split(":")[0]).sort();
}
const repos = (ids: string[]) => ids.map((id) => `${REPO_PATH}/${id}`).sort();
const named = (res: any[], name: string) => res.filter((r) => r.urn.endsWith(`::${name}`));

/** Processes alive now whose argv or environment matches. */
function processes(match: (argv: string[], environ: string) => boolean): string[] {
    const out: string[] = [];
    for (const pid of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
        try {
            const argv = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
            const environ = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
            if (argv.length && match(argv, environ)) out.push(`${pid}: ${argv.join(" ")}`);
        } catch { /* gone */ }
    }
    return out;
}

async function until(what: string, cond: () => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!cond()) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, 100));
    }
}

describe("idempotence", () => {
    const s = setup("idem", 5302);

    test("after an up: preview and up expect no changes, and a refresh leaves nothing to do", () => {
        const { registry, project } = s;
        must(project.up(), "pulumi up");
        const before = project.argvCount();
        must(project.pulumi(["preview", "--expect-no-changes"]), "preview --expect-no-changes");
        must(project.up(["--expect-no-changes"]), "up --expect-no-changes");
        const refresh = must(project.pulumi(["refresh", "--yes", "--skip-preview", "--expect-no-changes"]), "refresh --expect-no-changes");
        expect(refresh.stdout).not.toMatch(/~\s+\d+ to update|updated/);
        must(project.pulumi(["preview", "--expect-no-changes"]), "preview --expect-no-changes after refresh");
        // None of it built or pushed anything.
        expect(project.argv(before).filter((a) => a[0] === "nix-store" || a[0] === "skopeo")).toEqual([]);
    });
});

describe("a build failure", () => {
    const s = setup("buildfail", 5303);

    test("fails up with Nix's error, and pushes nothing of the layer or its descendants", () => {
        const { registry, project } = s;
        project.editFixtureLayer(MIDDLE, { broken: true });
        const r = project.up();
        expect(r.code).not.toBe(0);
        const out = r.stdout + r.stderr;
        expect(out).toContain(`fixture layer ${MIDDLE} is marked broken`);
        expect(out).toMatch(new RegExp(`builder for '/nix/store/[0-9a-z]{32}-${MIDDLE}-pkg\\.drv' failed`));
        expect(out).toMatch(new RegExp(`${MIDDLE}-build \\*\\*creating failed\\*\\*`));
        // The engine stops scheduling at the first error, so the layers above may or may not
        // have been pushed in this run; nothing of the broken layer or beneath it is.
        expect(ABOVE).toEqual(expect.arrayContaining(copiedLayers(project, 0)));
        expect(repos(ABOVE)).toEqual(expect.arrayContaining(registry.repositories()));
        const res = project.resources();
        for (const id of BENEATH) {
            expect(named(res, `${id}-push`)).toEqual([]);
            expect(named(res, `${id}-build`)).toEqual([]);
        }
    });

    test("with --continue-on-error, the layers not beneath it are published and it still pushes nothing beneath", () => {
        const { registry, project } = s;
        const r = project.up(["--continue-on-error"]);
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(`fixture layer ${MIDDLE} is marked broken`);
        expect(registry.repositories()).toEqual(repos(ABOVE));
        expect(copiedLayers(project, 0)).toEqual(ABOVE);
        const res = project.resources();
        for (const id of ABOVE) expect(named(res, `${id}-push`)).toHaveLength(1);
        for (const id of BENEATH) expect(named(res, `${id}-push`)).toEqual([]);
    });

    test("once fixed, the next up publishes the rest and re-pushes nothing", () => {
        const { registry, project } = s;
        project.editFixtureLayer(MIDDLE, { broken: false });
        const before = project.argvCount();
        const logFrom = registry.accessLogLines();
        must(project.up(), "pulumi up after the fix");
        expect(copiedLayers(project, before)).toEqual(BENEATH);
        expect(pushedLayers(registry, logFrom)).toEqual(BENEATH);
        expect(registry.repositories()).toEqual(repos(ALL));
        expect(Object.keys(project.outputs().layers).sort()).toEqual(ALL);
    });
});

describe("the registry going down during the pushes", () => {
    const s = setup("regdown", 5304);

    test("fails up naming the layer and the registry, and leaves the state consistent", async () => {
        const { registry, project } = s;
        // The middle layer builds for 8 s, so the registry can be stopped once its parent is pushed.
        // The middle layer builds for 15 s; the registry stops once its parent's push and check
        // are in the checkpoint, so it is down when the middle layer's push runs.
        project.editFixtureLayer(MIDDLE, { buildSeconds: 15, content: nonce() });
        const run = project.pulumiAsync(["up", "--yes", "--skip-preview"]);
        await until("layer02's push and check in the checkpoint", () => checkpointHas(project, ["layer02-python-tools-push", "layer02-python-tools-check-python-version"]), 60_000);
        expect(checkpointHas(project, [`${MIDDLE}-build`])).toBe(false);
        registry.stop();
        const r = await run.done;
        expect(r.code).not.toBe(0);
        const out = r.stdout + r.stderr;
        expect(out).toMatch(new RegExp(`${MIDDLE}-push \\*\\*(creating|updating) failed\\*\\*`));
        expect(out).toContain(registry.address);
        expect(out).toMatch(/connection refused/);
        const dep = project.deployment();
        expect(dep.pending_operations ?? []).toEqual([]);
        for (const id of ABOVE) expect(named(dep.resources!, `${id}-push`)).toHaveLength(1);
        for (const id of BENEATH) expect(named(dep.resources!, `${id}-push`)).toEqual([]);
        expect(registry.repositories()).toEqual(repos(ABOVE));
    });

    test("with the registry back, the next up publishes what is missing and nothing more", () => {
        const { registry, project } = s;
        registry.start();
        const before = project.argvCount();
        const logFrom = registry.accessLogLines();
        must(project.up(), "pulumi up with the registry back");
        expect(copiedLayers(project, before)).toEqual(BENEATH);
        expect(pushedLayers(registry, logFrom)).toEqual(BENEATH);
        // Blobs already in the registry (01's and 02's) are not uploaded again.
        const old = new Set(ABOVE.flatMap((id) => inspectLayers(registry, id)));
        expect(registry.uploadedBlobs(logFrom).filter((d) => old.has(d))).toEqual([]);
        expect(registry.repositories()).toEqual(repos(ALL));
    });
});

describe("a gateway answering 502 to blob uploads", () => {
    // One layer: each push attempt stops at its first failed blob upload, so the number of 502s
    // decides the outcome. skopeo itself does not retry a 5xx (containers/common pkg/retry); the
    // push does, twice (AGAIN_ON_5XX in lib/commands/layer.ts).
    const ID = "layer01-base-cuda";
    const s = setup("gateway", 5307, { "layerstack:layers": [{ id: ID }] });
    const badGateways = (registry: TestRegistry, from: number) =>
        registry.accessLog().split("\n").slice(from).filter((l) => / PATCH \S+\/blobs\/uploads\/\S+ 502 /.test(l));

    test("two 502s: the push tries again, says why, and publishes", () => {
        const { registry, project } = s;
        registry.stop();
        registry.failUploads = 2;
        registry.start();
        const from = registry.accessLogLines();
        const r = must(project.up(), "up through two 502s");
        const out = r.stdout + r.stderr;
        expect(out).toContain(`layer ${ID}: the registry answered with a server error; pushing again in 2s (1 of 2)`);
        expect(out).toContain(`layer ${ID}: the registry answered with a server error; pushing again in 4s (2 of 2)`);
        expect(out).toContain("received unexpected HTTP status: 502 Bad Gateway");
        expect(badGateways(registry, from)).toHaveLength(2);
        expect(registry.repositories()).toEqual(repos([ID]));
        const layer = project.outputs().layers[ID];
        expect(registry.tags(`${REPO_PATH}/${ID}`)).toEqual([layer.tag]);
        expect(inspectLayers(registry, ID)).toHaveLength(1);
    });

    test("three 502s: the third is final, the up fails naming the layer and the status, and nothing new is published", () => {
        const { registry, project } = s;
        const before = project.outputs().layers[ID];
        registry.stop();
        registry.failUploads = 3;
        registry.start();
        project.editFixtureLayer(ID, { content: nonce() });
        const from = registry.accessLogLines();
        const r = project.up();
        expect(r.code).not.toBe(0);
        const out = r.stdout + r.stderr;
        expect(out).toMatch(new RegExp(`${ID}-push \\*\\*(creating|updating|replacing) failed\\*\\*`));
        expect(out).toContain("received unexpected HTTP status: 502 Bad Gateway");
        expect(out).toContain("pushing again in 4s (2 of 2)");
        expect(out).not.toContain("(3 of 2)");
        expect(badGateways(registry, from)).toHaveLength(3);
        // No manifest was written: the registry holds the old tag only, and the stack still exports it.
        expect(registry.manifestPuts(from)).toEqual([]);
        expect(registry.tags(`${REPO_PATH}/${ID}`)).toEqual([before.tag]);
        expect(project.outputs().layers[ID]).toEqual(before);
    });
});

/** Whether the checkpoint the engine is writing (read directly, mid-update) holds these resources. */
function checkpointHas(project: TestProject, names: string[]): boolean {
    const file = path.join(project.stateDir, ".pulumi/stacks/layerstack", `${project.stack}.json`);
    let res: any[];
    try { res = JSON.parse(fs.readFileSync(file, "utf8")).checkpoint.latest?.resources ?? []; } catch { return false; }
    return names.every((n) => named(res, n).length === 1);
}

function inspectLayers(registry: TestRegistry, id: string): string[] {
    const [tag] = registry.tags(`${REPO_PATH}/${id}`);
    const out = execFileSync("skopeo", ["inspect", "--tls-verify=false", `docker://${registry.address}/${REPO_PATH}/${id}:${tag}`], { encoding: "utf8" });
    return JSON.parse(out).Layers;
}

describe("an interrupted up", () => {
    const s = setup("interrupt", 5305);
    const content = nonce();

    test("killed while the middle layer builds, scripts/recover.sh recovers, and the next up finishes without redoing finished layers", async () => {
        const { registry, project } = s;
        project.editFixtureLayer(MIDDLE, { buildSeconds: 20, content });
        const run = project.pulumiAsync(["up", "--yes", "--skip-preview"]);
        const building = () => processes((argv, env) => path.basename(argv[0]) === "sleep" && env.includes(content)).length > 0;
        await until("layer02 pushed and checked while layer03 builds",
            () => checkpointHas(project, ["layer02-python-tools-push", "layer02-python-tools-check-python-version"]) && building(), 60_000);
        process.kill(-run.child.pid!, "SIGKILL");
        await run.done;

        // What the kill left: the middle layer's build in flight, recorded as pending.
        const dep = project.deployment();
        expect((dep.pending_operations ?? []).map((op: any) => `${op.type} ${op.resource.urn.split("::").pop()}`)).toContain(`creating ${MIDDLE}-build`);
        const pushedBefore = ABOVE.filter((id) => named(dep.resources!, `${id}-push`).length === 1);
        expect(pushedBefore).toEqual(ABOVE);

        // Unrecovered, the stack stays locked by the dead update.
        const locked = project.up();
        expect(locked.code).not.toBe(0);
        expect(locked.stdout + locked.stderr).toMatch(/the stack is currently locked by 1 lock/);

        const rec = execFileSync("bash", [path.join(REPO, "scripts/recover.sh"), "--stack", project.stack], { cwd: project.dir, env: project.env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        expect(rec).toBe("");
        expect(project.deployment().pending_operations ?? []).toEqual([]);
        // The checkpoint as it was is kept under the project's ignored .layerstack/, nowhere else.
        expect(fs.readdirSync(project.dir).filter((f) => f.startsWith(".pulumi-recover"))).toEqual([]);
        expect(fs.readdirSync(path.join(project.dir, ".layerstack/recover"))).toEqual([expect.stringMatching(new RegExp(`^${project.stack}-\\d{8}T\\d{6}Z\\.json$`))]);

        const before = project.argvCount();
        const logFrom = registry.accessLogLines();
        must(project.up(), "pulumi up after recover.sh");
        const outs = project.outputs().layers;
        expect(Object.keys(outs).sort()).toEqual(ALL);
        // No finished layer is built or pushed again.
        const realised = new Set(project.argv(before).filter((a) => a[0] === "nix-store").map((a) => a[a.length - 1]));
        for (const id of ABOVE) expect(realised.has(outs[id].drvPath)).toBe(false);
        expect(copiedLayers(project, before)).toEqual(BENEATH);
        expect(pushedLayers(registry, logFrom)).toEqual(BENEATH);
    });
});

describe("a build timeout", () => {
    // The layer beneath builds for 120 s; the layers above publish although the run has failed:
    // --continue-on-error, as CI runs up, keeps the failure local.
    const s = setup("timeout", 5306, { "layerstack:buildTimeout": "3" });
    const content = nonce();

    test("ends up promptly, names the layer, and leaves no nix, nix-store or sleep process behind", () => {
        const { registry, project } = s;
        project.editFixtureLayer("layer04-pytorch", { buildSeconds: 120, content });
        const t0 = Date.now();
        const r = project.up(["--continue-on-error"]);
        const seconds = (Date.now() - t0) / 1000;
        expect(r.code).not.toBe(0);
        expect(seconds).toBeLessThan(30);
        const out = r.stdout + r.stderr;
        expect(out).toContain("layer04-pytorch-build");
        expect(out).toMatch(/time(d)? ?out|deadline exceeded/i);
        const leftover = () => processes((argv, env) => ["nix", "nix-store", "sleep"].includes(path.basename(argv[0]))
            && (env.includes(content) || env.includes(project.argvLog) || argv.includes("120")));
        // The builder (sleep) is the daemon's child, not the command's: the daemon ends it once the
        // killed nix-store client has hung up (NixOS/nix 2.26.3 src/libstore/daemon.cc, MonitorFdHup
        // interrupts the worker), which takes the daemon a moment on a loaded machine: up to 5 s.
        let left = leftover();
        for (let i = 0; i < 25 && left.length; i++) { spawnSync("sleep", ["0.2"]); left = leftover(); }
        expect(left).toEqual([]);
        // Nothing of the layer or beneath it was pushed.
        expect(registry.repositories()).toEqual(repos(ABOVE.concat("layer03-gcc15")));
    });
});
