// The dev stack end to end: the real Pulumi engine, Nix, skopeo and a registry on 127.0.0.1.
import { TestProject, TestRegistry, inspect, must } from "../support/stack";

const registry = new TestRegistry(5101);
const project = new TestProject("e2e", { shims: true });
const CHANGED = "layer05-pak3";
const BENEATH = ["layer05-pak3", "layer06-cupy", "layer07-pak5", "layer08-pak7", "layer09-sam", "layer10-performance", "layer11-app", "layer12-comfyui"];
/** The fixture's nix2container layer (fixtures/megapak/layers.json): its push also realises its copyTo program. */
const N2C = "layer09-sam";
let first: Record<string, any>;

beforeAll(() => {
    registry.start();
    project.initFor(registry);
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

test("a cold up publishes the 12 layers, each its parent's blobs plus one", () => {
    must(project.up(), "pulumi up");
    first = project.outputs().layers;
    expect(Object.keys(first)).toHaveLength(12);
    // The real flake's chain: 09 (a nix2container image in the fixture) between 08 and 10.
    expect(first["layer09-sam"].parent).toBe("layer08-pak7");
    expect(first["layer10-performance"].parent).toBe("layer09-sam");
    for (const [id, l] of Object.entries<any>(first)) {
        expect(l.imageRef).toBe(`${registry.address}/layerstack/megapak/${id}@${l.digest}`);
        expect(l.tag).toBe(`e2e-${l.drvPath.slice(11, 43)}`);
        const byDigest = inspect(l.imageRef);
        expect(byDigest.Digest).toBe(l.digest);
        // The immutable tag points at the same manifest.
        expect(inspect(`${registry.address}/layerstack/megapak/${id}:${l.tag}`).Digest).toBe(l.digest);
        const blobs: string[] = byDigest.Layers;
        expect(blobs[blobs.length - 1]).toBeDefined();
        if (l.parent) {
            const parentBlobs: string[] = inspect(first[l.parent].imageRef).Layers;
            expect(blobs.slice(0, -1)).toEqual(parentBlobs);
            expect(parentBlobs).not.toContain(blobs[blobs.length - 1]);
        } else {
            expect(blobs).toHaveLength(1);
        }
        expect(l.ownBlobSize).toBe(registry.blobSize(blobs[blobs.length - 1]));
    }
});

test("the engine recorded that each push waits for its parent's push, and no build waits for anything", () => {
    const res = project.resources();
    const urnOf = (name: string) => res.find((r) => r.urn.endsWith(`::${name}`))!.urn;
    for (const [id, l] of Object.entries<any>(first)) {
        const push = res.find((r) => r.urn.endsWith(`::${id}-push`));
        const build = res.find((r) => r.urn.endsWith(`::${id}-build`));
        expect(push.dependencies).toContain(urnOf(`${id}-build`));
        if (l.parent) expect(push.dependencies).toContain(urnOf(`${l.parent}-push`));
        expect(build.dependencies ?? []).toEqual([]);
        expect(build.inputs.triggers).toEqual([l.drvPath]);
    }
});

test("a second up changes nothing, and runs no build and no push", () => {
    const before = project.argvCount();
    must(project.up(["--expect-no-changes"]), "up --expect-no-changes");
    const calls = project.argv(before);
    expect(calls.filter((a) => a[0] === "nix-store")).toEqual([]);
    expect(calls.filter((a) => a[0] === "skopeo")).toEqual([]);
    // The program's one evaluation of all layers.
    expect(calls.filter((a) => a[0] === "nix" && a.includes("eval"))).toHaveLength(1);
});

test("after one layer's content changes, preview names exactly it and its descendants", () => {
    project.editFixtureLayer(CHANGED, { content: "pak3.txt plus one more package" });
    const before = project.argvCount();
    const r = must(project.pulumi(["preview", "--json", "--show-sames"]), "preview --json");
    const steps: { op: string; urn: string }[] = JSON.parse(r.stdout).steps;
    const changed = steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${s.urn.split("::").pop()}`);
    // Each rebuilt layer's build and push, and its checks (they run against the new digest).
    // (The catalog's checks, layers/megapak.ts; those marked gpu do not run here.)
    const checked = ["layer05-pak3-check-pak3-installed", "layer05-pak3-check-pak3-modules", "layer06-cupy-check-cupy-installed",
        "layer07-pak5-check-pak5-installed", "layer08-pak7-check-pak7-installed", "layer10-performance-check-performance-installed",
        "layer11-app-check-app-files", "layer12-comfyui-check-all-installed", "layer12-comfyui-check-all-modules", "layer12-comfyui-check-app-files"];
    // Each rebuilt layer's registry read-back (RegistryImage) stands for its new tag, so it is replaced too.
    const expected = [...BENEATH.flatMap((id) => [`replace ${id}-build`, `replace ${id}-push`, `replace ${id}-in-registry`]), ...checked.map((c) => `replace ${c}`)];
    expect(changed.filter((c) => !c.startsWith("create-replacement") && !c.startsWith("delete-replaced")).sort()).toEqual(expected.sort());
    // The picture drawn from this preview marks exactly those layers.
    const file = require("path").join(project.dir, "preview.json");
    require("fs").writeFileSync(file, r.stdout);
    const { fromPreview } = require("../../scripts/graph.js");
    const drawn: { id: string; parent?: string; state: string }[] = fromPreview(JSON.parse(r.stdout));
    expect(drawn.filter((l) => l.state === "will rebuild").map((l) => l.id).sort()).toEqual([...BENEATH].sort());
    expect(drawn.filter((l) => l.state === "unchanged")).toHaveLength(12 - BENEATH.length);
    expect(drawn.find((l) => l.id === "layer10-performance")!.parent).toBe("layer09-sam");
    // Preview has no side effects: no build, no push.
    const calls = project.argv(before);
    expect(calls.filter((a) => a[0] === "nix-store" || a[0] === "skopeo")).toEqual([]);
});

test("up rebuilds only those layers and uploads only new blobs", () => {
    const before = project.argvCount();
    const logFrom = registry.accessLogLines();
    must(project.up(), "pulumi up after a change");
    const after = project.outputs().layers;
    const realised = new Set(project.argv(before).filter((a) => a[0] === "nix-store").map((a) => a[a.length - 1]));
    const copyTo = [...realised].filter((d) => d.endsWith("-copy-to.drv"));
    expect(copyTo).toHaveLength(1); // layer 09's copyTo, which holds its image's blobs
    expect([...realised].sort()).toEqual([...BENEATH.map((id) => after[id].drvPath), ...copyTo].sort());
    expect(first[N2C]).toBeDefined();
    for (const id of Object.keys(first)) {
        if (BENEATH.includes(id)) expect(after[id].digest).not.toBe(first[id].digest);
        else expect(after[id]).toEqual(first[id]);
    }
    // Every uploaded blob is new: the changed layer's own blob, plus each rebuilt image's config.
    const uploaded = registry.uploadedBlobs(logFrom);
    const oldBlobs = new Set(Object.values<any>(first).flatMap((l) => inspect(l.imageRef).Layers as string[]));
    const newOwn = inspect(after[CHANGED].imageRef).Layers.slice(-1)[0];
    const configs = BENEATH.map((id) => inspect(after[id].imageRef, true).config.digest);
    expect(uploaded.filter((d) => oldBlobs.has(d))).toEqual([]);
    expect(new Set(uploaded)).toEqual(new Set([newOwn, ...configs]));
    // And the bytes received are exactly those blobs' bytes.
    expect(registry.uploadedBytes(logFrom)).toBe([newOwn, ...configs].reduce((n, d) => n + registry.blobSize(d), 0));
});
