// Issue 20: a nix2container image's own layers as the pipeline's layers
// (`layerstack:containerImage`). The fixture (fixtures/nix2container) folds five layers with
// `layers = priorLayers` and writes nix2container's formats; its image is published once, by its
// own copyTo. Real engine, Nix, skopeo and registry.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO, TestProject, TestRegistry, inspect, must } from "../support/stack";

const registry = new TestRegistry(5704);
const project = new TestProject("n2c", { shims: true });
const flake = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-n2c-flake-"));
const IDS = ["base", "python", "torch", "paks", "perf", "app"];

function editLayer(i: number, content: string): void {
    const file = path.join(flake, "layers.json");
    const spec = JSON.parse(fs.readFileSync(file, "utf8"));
    spec.layers[i].content = content;
    fs.writeFileSync(file, JSON.stringify(spec, null, 2));
}

beforeAll(() => {
    registry.start();
    fs.cpSync(path.join(REPO, "fixtures/nix2container"), flake, { recursive: true });
    // Contents of this run only: every layer is built here, none is in the store from before.
    const file = path.join(flake, "layers.json");
    const spec = JSON.parse(fs.readFileSync(file, "utf8"));
    const nonce = crypto.randomBytes(6).toString("hex");
    for (const l of spec.layers) l.content = `${l.content} ${nonce}`;
    fs.writeFileSync(file, JSON.stringify(spec, null, 2));
    project.initFor(registry, {
        "layerstack:flake": `path:${flake}`,
        "layerstack:containerImage": "folded",
        "layerstack:containerLayerIds": IDS,
    });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
    fs.rmSync(flake, { recursive: true, force: true });
});

let first: { layers: Record<string, any>; containerLayers: Record<string, any> };

test("five folded layers (and buildImage's own) publish as that many layer components, the image once by its copyTo", () => {
    const before = project.argvCount();
    must(project.up(), "pulumi up");
    first = project.outputs() as any;
    const c = first.containerLayers;
    // (Pulumi prints an output's keys sorted: the order is each layer's position.)
    expect(Object.keys(c).sort()).toEqual([...IDS].sort());
    IDS.forEach((id, i) => {
        expect(c[id].position).toBe(i + 1);
        expect(c[id].parent).toBe(i === 0 ? undefined : IDS[i - 1]);
        expect(c[id].drvPath).toMatch(/^\/nix\/store\/[0-9a-z]{32}-layers\.json\.drv$/);
        // Each layer's own blob, as its layers.json says (nlewo/nix2container types.Layer).
        const lj = JSON.parse(fs.readFileSync(path.join(c[id].outPath, "layers.json"), "utf8"));
        expect(c[id].blobs).toEqual(lj.map((l: any) => l.digest));
        expect(c[id].ownBlobSize).toBe(lj.reduce((n: number, l: any) => n + l.size, 0));
    });
    // The image: one layer of the stack, published by its copyTo, holding the six layers in order.
    expect(Object.keys(first.layers)).toEqual(["folded"]);
    const image = inspect(first.layers.folded.imageRef);
    expect(image.Digest).toBe(first.layers.folded.digest);
    expect(image.Layers).toHaveLength(6);
    const calls = project.argv(before);
    expect(calls.filter((a) => a[0] === "skopeo" && a[1] === "--insecure-policy")).toHaveLength(1);
    // Each layer's build realised its own derivation.
    const realised = new Set(calls.filter((a) => a[0] === "nix-store").map((a) => a[a.length - 1]));
    for (const id of IDS) expect(realised.has(c[id].drvPath)).toBe(true);
});

test("the second up --expect-no-changes passes", () => {
    const before = project.argvCount();
    must(project.up(["--expect-no-changes"]), "up --expect-no-changes");
    expect(project.argv(before).filter((a) => a[0] === "skopeo" || a[0] === "nix-store")).toEqual([]);
});

test("after a change to layer 3, the preview names layers 3 to 5 (and the image's own) and no others; the push uploads only the new blob", () => {
    editLayer(2, "PyTorch 2.10.0, changed");
    const r = must(project.pulumi(["preview", "--json"]), "preview --json");
    const steps: any[] = JSON.parse(r.stdout).steps;
    const replaced = steps.filter((s) => s.op === "replace").map((s) => s.urn.split("::").pop() as string);
    // The layers whose layers.json derivation changed: torch, paks, perf, and buildImage's own (app).
    expect(replaced.filter((n) => IDS.some((id) => n === `${id}-build`)).sort()).toEqual(["app-build", "paks-build", "perf-build", "torch-build"]);
    // And the image, whose derivation names them.
    expect(replaced.filter((n) => n.startsWith("folded-")).sort()).toEqual(["folded-build", "folded-in-registry", "folded-push"]);
    expect(replaced.filter((n) => !n.startsWith("folded-") && !IDS.some((id) => n === `${id}-build`))).toEqual([]);

    const logFrom = registry.accessLogLines();
    must(project.up(), "pulumi up after layer 3 changed");
    const after = project.outputs() as any;
    for (const id of ["base", "python"]) expect(after.containerLayers[id]).toEqual(first.containerLayers[id]);
    for (const id of ["torch", "paks", "perf", "app"]) expect(after.containerLayers[id].drvPath).not.toBe(first.containerLayers[id].drvPath);
    // Layers 4 to 6 were built again (their layers.json derivations take layer 3's), but their own
    // tars hold the same files: the same blobs. Layer 3's is the one new blob.
    expect(after.containerLayers.torch.blobs).not.toEqual(first.containerLayers.torch.blobs);
    for (const id of ["paks", "perf", "app"]) expect(after.containerLayers[id].blobs).toEqual(first.containerLayers[id].blobs);
    // Uploaded: that blob and the image's config, nothing the registry had.
    const oldLayers = inspect(first.layers.folded.imageRef).Layers as string[];
    const oldBlobs = new Set(oldLayers);
    const newImage = inspect(after.layers.folded.imageRef);
    const newBlobs = (newImage.Layers as string[]).filter((d) => !oldBlobs.has(d));
    expect(newBlobs).toHaveLength(1);
    expect(newImage.Layers as string[]).toEqual([...oldLayers.slice(0, 2), newBlobs[0], ...oldLayers.slice(3)]);
    const uploaded = registry.uploadedBlobs(logFrom);
    expect(uploaded.filter((d) => oldBlobs.has(d))).toEqual([]);
    expect(new Set(uploaded)).toEqual(new Set([...newBlobs, inspect(after.layers.folded.imageRef, true).config.digest]));
    must(project.up(["--expect-no-changes"]), "up --expect-no-changes after the change");
});
