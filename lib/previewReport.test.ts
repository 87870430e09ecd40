import { LayerWhy } from "./contents";
import { LayerForecast } from "./forecast";
import { buildReport, renderMarkdown, renderText } from "./previewReport";
import { GHCR_LIMITS, checkLimits, limitsFor } from "./registryLimits";

const layers = [{ id: "l1" }, { id: "l2", parent: "l1" }, { id: "l3", parent: "l2" }, { id: "l4", parent: "l1" }];
const why: Record<string, LayerWhy> = {
    l1: { change: "unchanged", short: "unchanged", text: "unchanged", newBlob: false },
    l2: { change: "content", short: "1 package", text: "1 package changed: python3.14-numpy 2.3.1 -> 2.3.2", newBlob: true },
    l3: { change: "parent", short: "parent changed (l2)", text: "parent changed: l2: 1 package changed: python3.14-numpy 2.3.1 -> 2.3.2", newBlob: false, cause: "l2" },
    l4: { change: "new", short: "new", text: "new: never published", newBlob: true },
};
const f = (status: LayerForecast["status"], build: number, fetch: number, narSize = 0): LayerForecast => ({
    status, build: Array.from({ length: build }, (_, i) => `/nix/store/${i}.drv`),
    fetch: Array.from({ length: fetch }, (_, i) => ({ path: `/nix/store/f${i}`, narSize })), downloadSize: 0, narSize: narSize * fetch,
});
const forecast = { l1: f("unchanged", 0, 0), l2: f("build", 3, 0), l3: f("build", 2, 0), l4: f("substitute", 0, 2, 5000) };
const last = { l1: { ownBlobSize: 100, configSize: 10, manifestSize: 20, layerCount: 1 }, l2: { ownBlobSize: 2048, configSize: 300, manifestSize: 400, layerCount: 2 }, l3: { ownBlobSize: 900, configSize: 30, manifestSize: 40, layerCount: 3 } };
const dry = { build: ["a", "b", "c", "d"], fetch: ["x", "y"], unknown: [] };

describe("buildReport", () => {
    const r = buildReport(layers, why, forecast, last, dry);

    test("the bytes to upload: the last blob for new own paths, config and manifest for a parent change, NAR sizes for a never published layer", () => {
        expect(r.rows.map((x) => [x.id, x.uploadBytes, x.uploadFrom])).toEqual([
            ["l1", 0, "none"],
            ["l2", 2048 + 300 + 400, "last publish"],
            ["l3", 30 + 40, "last publish: config and manifest"],
            ["l4", 10000, "forecast NAR sizes"],
        ]);
        expect(r.uploadBytes).toBe(2748 + 70 + 10000);
        // Nix's own totals, each derivation once.
        expect([r.changed, r.build, r.fetch]).toEqual([3, 4, 2]);
        expect(r.rows.find((x) => x.id === "l4")!.layerCount).toBe(2);
    });

    test("the text: a title, the reasons, the table (exact)", () => {
        expect(renderText(r)).toBe([
            "layerstack: 3 of 4 layers change",
            "l2: 1 package changed: python3.14-numpy 2.3.1 -> 2.3.2",
            "l3: parent changed: l2: 1 package changed: python3.14-numpy 2.3.1 -> 2.3.2",
            "l4: new: never published",
            "layer  change   why                  build  fetch  upload",
            "l1     -        unchanged            0      0      -",
            "l2     changes  1 package            3      0      2.7 KiB",
            "l3     changes  parent changed (l2)  2      0      70 B (config+manifest)",
            "l4     new      new                  0      2      9.8 KiB (NAR sizes)",
            "total  3 of 4                        4      2      12.5 KiB",
        ].join("\n"));
    });

    test("Markdown for a job summary and a pull request", () => {
        const md = renderMarkdown(r, "Layers of cu130");
        expect(md).toContain("### Layers of cu130: 3 of 4 layers change");
        expect(md).toContain("| l3 | changes | parent changed (l2) | 2 | 0 | 70 B (config+manifest) |");
        expect(md).toContain("- l2: 1 package changed: python3.14-numpy 2.3.1 -> 2.3.2");
    });

    test("without a forecast or a last publish: unknown, said so", () => {
        const bare = buildReport(layers, why, undefined, undefined);
        expect(bare.rows.find((x) => x.id === "l2")).toMatchObject({ uploadFrom: "unknown" });
        expect(bare.uploadUnknown).toBe(3);
        expect(renderText(bare).split("\n").pop()).toBe("total  3 of 4                        ?      ?      0 B + 3 unknown");
    });
});

describe("registry limits", () => {
    const r = buildReport(layers, why, forecast, last, dry);

    test("GHCR's defaults for ghcr.io only; the stack's own over them", () => {
        expect(limitsFor("ghcr.io")).toEqual(GHCR_LIMITS);
        expect(limitsFor("registry.example.com")).toEqual({});
        expect(limitsFor("ghcr.io", { maxLayers: 10 })).toEqual({ ...GHCR_LIMITS, maxLayers: 10 });
    });

    test("a blob over the limit fails, naming the layer, the limit and the estimate; an unchanged layer is not checked", () => {
        const { errors, warnings } = checkLimits(r, { maxBlobBytes: 1000 });
        expect(errors).toEqual([
            "layer l2: its blob of 2048 B (estimated from its last publish) is over the registry's limit of 1000 B (layerstack:registryLimits maxBlobBytes); the registry would refuse it",
            "layer l4: its blob of 10000 B (estimated from the forecast's NAR sizes) is over the registry's limit of 1000 B (layerstack:registryLimits maxBlobBytes); the registry would refuse it",
        ]);
        expect(warnings).toEqual([]);
        // allowOverLimits: the same, as warnings.
        expect(checkLimits(r, { maxBlobBytes: 1000, allowOverLimits: true })).toEqual({ errors: [], warnings: errors });
    });

    test("the layer count fails; the upload time, an estimate, only warns", () => {
        expect(checkLimits(r, { maxLayers: 2 }).errors).toEqual([
            "layer l3: its image has 3 layers, over the limit of 2 (layerstack:registryLimits maxLayers: overlayfs mounts at most 128 lower layers)",
        ]);
        const t = checkLimits(r, { maxUploadSeconds: 1, uploadBytesPerSecond: 1000 });
        expect(t.errors).toEqual([]);
        expect(t.warnings).toEqual([
            "layer l2: its blob of 2048 B (estimated from its last publish) takes about 2 s to upload at 1000 bytes/s, over the registry's 1 s (layerstack:registryLimits maxUploadSeconds, uploadBytesPerSecond); an estimate, so a warning",
            "layer l4: its blob of 10000 B (estimated from the forecast's NAR sizes) takes about 10 s to upload at 1000 bytes/s, over the registry's 1 s (layerstack:registryLimits maxUploadSeconds, uploadBytesPerSecond); an estimate, so a warning",
        ]);
    });
});
