import * as path from "path";
import { installMocks, valueOf, fakeManifest, Recorded } from "../test/support/mocks";
import { Evaluated, evaluateAttrs } from "../lib/nix";
import { megapakLayers } from "../layers";

const recorded: Recorded[] = installMocks({
    stdout: (r) => (r.name.endsWith("-push") ? `sha256:${"cd".repeat(32)}\n${fakeManifest([1, 2])}` : undefined),
});
import type * as pipelineModule from "./imagePipeline";
let mod: typeof pipelineModule;
beforeAll(async () => { mod = await import("./imagePipeline"); });

// The fixture flake is real and evaluates in well under a second, so these tests use
// Nix's own evaluation rather than invented drvPaths.
const FLAKE = `path:${path.resolve(__dirname, "../fixtures/megapak")}`;
const base = { flake: FLAKE, registry: "127.0.0.1:5000", repository: "layerstack/megapak", variant: "dev" };

describe("ImagePipeline", () => {
    test("declares one layer component per enabled catalog layer, each with build and push", async () => {
        const p = new mod.ImagePipeline("megapak", { ...base, layers: megapakLayers() });
        const out = await valueOf(p.layers);
        const ids = megapakLayers().map((l) => l.id);
        expect(Object.keys(out)).toEqual(ids);
        // The real flake's chain (layers/megapak.ts): 09 is a layer like the others, 10 builds on it.
        expect(ids).toContain("layer09-sam");
        const names = recorded.map((r) => r.name);
        for (const id of ids) {
            expect(names).toContain(id);
            expect(names).toContain(`${id}-build`);
            expect(names).toContain(`${id}-push`);
        }
        expect(recorded.filter((r) => r.type === "layerstack:index:NixImageLayer")).toHaveLength(12);
        const ev = evaluateAttrs(FLAKE, "x86_64-linux", ids) as Map<string, Evaluated>;
        for (const id of ids) {
            expect(out[id].drvPath).toBe(ev.get(id)!.drvPath);
            expect(out[id].outPath).toBe(ev.get(id)!.outPath);
            expect(out[id].tag).toBe(`dev-${ev.get(id)!.drvPath.slice(11, 43)}`);
            expect(out[id].imageRef).toBe(`127.0.0.1:5000/layerstack/megapak/${id}@sha256:${"cd".repeat(32)}`);
        }
        expect(out["layer10-performance"].parent).toBe("layer09-sam");
        expect(out["layer09-sam"].parent).toBe("layer08-pak7");
        expect(out["layer01-base-cuda"].parent).toBeUndefined();
    });

    test("a layer whose attribute the flake lacks is rejected by name", () => {
        expect(() => new mod.ImagePipeline("p2", {
            ...base, layersSource: "layerstack:layers",
            layers: [{ id: "base", attr: "layer01-base-cuda" }, { id: "ghost", attr: "layer99-ghost", parent: "base" }],
        })).toThrow(`layerstack:layers: layer "ghost": the flake has no attribute packages.x86_64-linux.layer99-ghost (${FLAKE})`);
    });

    test("a flake that does not evaluate is reported with Nix's error", () => {
        expect(() => new mod.ImagePipeline("p3", { ...base, flake: "path:/nonexistent-flake-dir", layers: [{ id: "a", attr: "a" }] }))
            .toThrow(/layerstack:flake: evaluating path:\/nonexistent-flake-dir#packages.x86_64-linux failed/);
    });

    test("the one evaluation finds a nix2container copyTo; the push gets it unless a format overrides", async () => {
        const ev = evaluateAttrs(FLAKE, "x86_64-linux", ["layer09-sam", "layer08-pak7"]);
        const copyTo = ev.get("layer09-sam")!.copyTo!;
        expect(copyTo.drvPath).toMatch(/^\/nix\/store\/[0-9a-z]{32}-copy-to\.drv$/);
        expect(copyTo.mainProgram).toBeUndefined();
        expect(ev.get("layer08-pak7")!.copyTo).toBeUndefined();
        const p = new mod.ImagePipeline("n2c", {
            ...base, layers: [
                { id: "n-base", attr: "layer08-pak7" },
                { id: "n-perf", attr: "layer09-sam", parent: "n-base" },
                { id: "n-forced", attr: "layer09-sam", parent: "n-base", format: "oci" },
            ],
        });
        await valueOf(p.layers);
        const env = (n: string) => recorded.find((r) => r.name === `${n}-push`)!.inputs.environment as Record<string, string>;
        expect(env("n-perf").LAYERSTACK_COPY_TO_DRV).toBe(copyTo.drvPath);
        expect(env("n-perf").LAYERSTACK_FORMAT).toBeUndefined();
        expect(env("n-forced").LAYERSTACK_COPY_TO_DRV).toBeUndefined();
        expect(env("n-forced").LAYERSTACK_FORMAT).toBe("oci");
        expect(env("n-base").LAYERSTACK_COPY_TO_DRV).toBeUndefined();
    });

    test("a tree: two children of one base share it", async () => {
        const p = new mod.ImagePipeline("tree", {
            ...base, layers: [
                { id: "t-base", attr: "layer01-base-cuda" },
                { id: "t-slim", attr: "layer02-python-tools", parent: "t-base" },
                { id: "t-other", attr: "layer03-gcc15", parent: "t-base", format: "docker-archive" },
            ],
        });
        const out = await valueOf(p.layers);
        expect(out["t-slim"].parent).toBe("t-base");
        expect(out["t-other"].parent).toBe("t-base");
        expect(p.layerComponents.size).toBe(3);
    });
    test("the single layout: every layer in the one repository, its id ending its tags (lib/layout.ts)", async () => {
        const p = new mod.ImagePipeline("one", {
            ...base, repositoryLayout: "single",
            layers: [{ id: "one-base", attr: "layer01-base-cuda" }, { id: "one-top", attr: "layer02-python-tools", parent: "one-base" }],
        });
        const out = await valueOf(p.layers);
        for (const id of ["one-base", "one-top"]) {
            expect(out[id].repository).toBe("127.0.0.1:5000/layerstack/megapak");
            expect(out[id].tag).toBe(`dev-${out[id].drvPath.slice(11, 43)}-${id}`);
            expect(out[id].imageRef).toBe(`127.0.0.1:5000/layerstack/megapak@sha256:${"cd".repeat(32)}`);
            expect(p.layerComponents.get(id)!.tagSuffix).toBe(`-${id}`);
        }
        // The registry read-back and the push name the one repository and the layer's own tag.
        const readBack = recorded.find((r) => r.name === "one-top-in-registry")!.inputs;
        expect(readBack).toMatchObject({ repository: "layerstack/megapak", tag: out["one-top"].tag });
        expect(() => mod.validateImagePipelineArgs({ ...base, repositoryLayout: "single", repository: "r".repeat(250), layers: [{ id: "a", attr: "a" }] }))
            .toThrow(`layers: layer "a": "127.0.0.1:5000/${"r".repeat(250)}" is 265 characters; an image name may have at most 255`);
    });

    test("a nix2container image's own layers: ids by position unless given, in its order; a wrong count or no layers refused", () => {
        const n2c = `path:${path.resolve(__dirname, "../fixtures/nix2container")}`;
        const plan = mod.ImagePipeline.plan({ ...base, flake: n2c, layers: [], containerImage: { attr: "folded" } });
        expect(plan.ordered.map((l) => l.id)).toEqual(["folded"]);
        expect(plan.container!.layers.map((l) => l.id)).toEqual(mod.containerLayerIds("folded", 6));
        expect(mod.containerLayerIds("folded", 2)).toEqual(["folded-layer01", "folded-layer02"]);
        expect(() => mod.ImagePipeline.plan({ ...base, flake: n2c, layers: [], containerImage: { attr: "folded", layerIds: ["a", "b"] } }))
            .toThrow(`layers: containerImage "folded" has 6 layers (the last is buildImage's own), but 2 layer ids are given`);
        expect(() => mod.ImagePipeline.plan({ ...base, flake: n2c, layers: [], containerImage: { attr: "folded", layerIds: ["a", "b", "c", "d", "e", "a"] } }))
            .toThrow(`layers: containerImage "folded": duplicate layer id "a"`);
        expect(() => mod.ImagePipeline.plan({ ...base, layers: [], containerImage: { attr: "layer09-sam" } }))
            .toThrow(`layers: containerImage "layer09-sam": packages.x86_64-linux.layer09-sam is no nix2container image with layers of its own (its buildImage script names no layers.json)`);
    });

    test("its own rules, without the engine: the layers parents first, a bad one named (validateImagePipelineArgs)", () => {
        const two = [{ id: "b", attr: "b", parent: "a" }, { id: "a", attr: "a" }];
        expect(mod.validateImagePipelineArgs({ ...base, layers: two }).map((l) => l.id)).toEqual(["a", "b"]);
        expect(() => mod.validateImagePipelineArgs({ ...base, layers: [{ id: "a", attr: "a", parent: "zz" }] })).toThrow('layers: layer "a" has unknown parent "zz"');
        expect(() => mod.validateImagePipelineArgs({ ...base, repository: "r".repeat(250), layers: [{ id: "a", attr: "a" }] }))
            .toThrow(`layers: layer "a": "127.0.0.1:5000/${"r".repeat(250)}/a" is 267 characters; an image name may have at most 255`);
    });

    test("planAsync: the same plan as plan(), its evaluation a child the event loop does not wait on; the same errors", async () => {
        const layers = megapakLayers();
        const sync = mod.ImagePipeline.plan({ ...base, layers });
        // While the async evaluation runs, timers fire: the event loop is free (what lets the
        // read-back's provider registration reach the engine meanwhile: index.ts).
        let ticks = 0;
        const timer = setInterval(() => { ticks++; }, 1);
        const pending = mod.ImagePipeline.planAsync({ ...base, layers });
        const plan = await pending;
        clearInterval(timer);
        expect(ticks).toBeGreaterThan(0);
        expect(plan.ordered.map((l) => l.id)).toEqual(sync.ordered.map((l) => l.id));
        expect([...plan.evaluated.entries()]).toEqual([...sync.evaluated.entries()]);
        await expect(mod.ImagePipeline.planAsync({ ...base, layersSource: "layerstack:layers", layers: [{ id: "ghost", attr: "layer99-ghost" }] }))
            .rejects.toThrow(`layerstack:layers: layer "ghost": the flake has no attribute packages.x86_64-linux.layer99-ghost (${FLAKE})`);
        await expect(mod.ImagePipeline.planAsync({ ...base, flake: "path:/nonexistent-flake-dir", layers: [{ id: "a", attr: "a" }] }))
            .rejects.toThrow(/layerstack:flake: evaluating path:\/nonexistent-flake-dir#packages.x86_64-linux failed \(nix exited 1\)/);
    });
});
