import { LayerContents, MAX_PACKAGES, describeDiff, diffContents, layerContents, parseDrvName, whyChanged } from "./contents";
import { createHash } from "crypto";
import { DrvInfo } from "./forecast";

/** A made-up store path of this name (`name@salt`: another path of the same name). */
const S = (name: string) => {
    const [n, salt = ""] = name.split("@");
    return `/nix/store/${(salt + n).replace(/[^0-9a-z]/g, "").padEnd(32, "0").slice(0, 32)}-${n}`;
};

/**
 * A store of derivations: name -> { env, inputs, srcs }. As in Nix, a derivation's path is a
 * hash of what it is made of, its inputs' paths included, so a changed input changes every
 * derivation above it.
 */
interface Store { readDrv: (p: string) => DrvInfo; path: (name: string) => string }
function store(drvs: Record<string, { env?: DrvInfo["env"]; inputs?: string[]; srcs?: string[] }>): Store {
    const byPath = new Map<string, DrvInfo>(), paths = new Map<string, string>();
    const path = (name: string): string => {
        const known = paths.get(name);
        if (known) return known;
        const d = drvs[name];
        if (!d) throw new Error(`no derivation ${name}`);
        const info: DrvInfo = {
            outputs: { out: S(name) },
            inputDrvs: Object.fromEntries((d.inputs ?? []).map((i) => [path(i), ["out"]])),
            inputSrcs: (d.srcs ?? []).map(S),
            env: { name: name.split("@")[0], ...d.env },
        };
        const p = `/nix/store/${createHash("sha256").update(JSON.stringify(info)).digest("hex").slice(0, 32)}-${name.split("@")[0]}.drv`;
        paths.set(name, p);
        byPath.set(p, info);
        return p;
    };
    for (const name of Object.keys(drvs)) path(name);
    return {
        path,
        readDrv: (p) => {
            const d = byPath.get(p);
            if (!d) throw new Error(`no such derivation ${p}`);
            return d;
        },
    };
}

describe("parseDrvName (builtins.parseDrvName)", () => {
    test.each([
        ["python3.14-numpy-2.3.2", "python3.14-numpy", "2.3.2"],
        ["nix-2.26.3", "nix", "2.26.3"],
        ["layer05-pak3", "layer05-pak3", ""],
        ["cuda_nvcc-13.0.48", "cuda_nvcc", "13.0.48"],
        ["hello", "hello", ""],
    ])("%s", (s, name, version) => {
        expect(parseDrvName(s)).toEqual({ name, version });
    });
});

// python3 <- numpy, kornia ; layer04 image <- its pkg ; layer05 image <- layer04 image, pak pkg <- numpy, kornia, pak3.txt
function megapak(numpy: string, opts: { lark?: boolean; list?: string; python?: string } = {}) {
    const python = `python3-${opts.python ?? "3.14.0"}`;
    return store({
        [python]: {},
        "layer04-pytorch-pkg": { inputs: [python] },
        "layer04-pytorch": { inputs: ["layer04-pytorch-pkg"], srcs: ["assemble.sh"] },
        [`python3.14-numpy-${numpy}`]: { env: { pname: "numpy", version: numpy }, inputs: [python] },
        "python3.14-kornia-0.8.0": { inputs: [python, `python3.14-numpy-${numpy}`] },
        ...(opts.lark ? { "python3.14-lark-1.2.2": { inputs: [python] } } : {}),
        "torch-2.10.0-cp314-linux_x86_64.whl": { env: { outputHash: "sha256-abc", outputHashAlgo: "" } },
        "layer05-pak3-pkg": {
            inputs: [`python3.14-numpy-${numpy}`, "python3.14-kornia-0.8.0", ...(opts.lark ? ["python3.14-lark-1.2.2"] : [])],
            srcs: [opts.list ?? "pak3.txt"],
        },
        "layer05-pak3": { inputs: ["layer04-pytorch", "layer05-pak3-pkg"], srcs: ["assemble.sh"] },
        "layer06-cupy-pkg": { inputs: ["torch-2.10.0-cp314-linux_x86_64.whl"] },
        "layer06-cupy": { inputs: ["layer05-pak3", "layer06-cupy-pkg"], srcs: ["assemble.sh"] },
    });
}

const LAYERS = [
    { id: "layer04-pytorch" },
    { id: "layer05-pak3", parent: "layer04-pytorch" },
    { id: "layer06-cupy", parent: "layer05-pak3" },
];

function contentsOf(st: Store): Record<string, LayerContents> {
    const out: Record<string, LayerContents> = {};
    for (const l of LAYERS) out[l.id] = layerContents({ drvPath: st.path(l.id), parent: l.parent ? { id: l.parent, drvPath: st.path(l.parent) } : undefined }, st.readDrv);
    return out;
}

describe("layerContents", () => {
    test("a layer's own packages and sources: its closure less its parent's", () => {
        const c = contentsOf(megapak("2.3.1"));
        expect(c["layer04-pytorch"].packages).toEqual({ python3: "3.14.0" });
        expect(c["layer05-pak3"].packages).toEqual({ "python3.14-kornia": "0.8.0", "python3.14-numpy": "2.3.1" });
        expect(Object.keys(c["layer05-pak3"].sources)).toEqual(["assemble.sh", "pak3.txt"]);
        expect(c["layer05-pak3"].parent).toBe("layer04-pytorch");
        // The wheel is a fixed-output derivation: a source with its declared hash, no package.
        expect(c["layer06-cupy"].packages).toEqual({});
        expect(c["layer06-cupy"].sources).toEqual({ "assemble.sh": expect.any(String), "torch-2.10.0-cp314-linux_x86_64.whl": "sha256-abc" });
    });

    test("bounded: at most MAX_PACKAGES packages kept, the rest counted and digested", () => {
        const drvs: Record<string, { inputs?: string[] }> = {};
        const names = Array.from({ length: MAX_PACKAGES + 5 }, (_, i) => `pkg${String(i).padStart(5, "0")}-1.0`);
        for (const n of names) drvs[n] = {};
        drvs.top = { inputs: names };
        const st = store(drvs);
        const c = layerContents({ drvPath: st.path("top") }, st.readDrv);
        expect(Object.keys(c.packages)).toHaveLength(MAX_PACKAGES);
        expect(c.packageCount).toBe(MAX_PACKAGES + 5);
        const drvs2 = { ...drvs, [names[names.length - 1].replace("1.0", "1.1")]: {} };
        const names2 = [...names.slice(0, -1), names[names.length - 1].replace("1.0", "1.1")];
        drvs2.top = { inputs: names2 };
        const st2 = store(drvs2);
        const c2 = layerContents({ drvPath: st2.path("top") }, st2.readDrv);
        const d = diffContents(c, c2);
        expect(d.packages).toEqual([]);
        expect(d.beyondLists).toBe(true);
        expect(describeDiff(d).text).toBe("packages or sources beyond the kept lists changed");
    });
});

describe("whyChanged", () => {
    const before = contentsOf(megapak("2.3.1"));
    const order = LAYERS.map((l) => ({ id: l.id, parent: l.parent }));

    test("one package changed in layer05: its version, its list, and parent changed below it", () => {
        const after = contentsOf(megapak("2.3.2", { list: "pak3.txt@v2" }));
        expect(after["layer05-pak3"].drvPath).not.toBe(before["layer05-pak3"].drvPath);
        const why = whyChanged(order, after, before);
        expect(why["layer04-pytorch"]).toEqual({ change: "unchanged", short: "unchanged", text: "unchanged", newBlob: false });
        expect(why["layer05-pak3"].text).toBe("1 package changed: python3.14-numpy 2.3.1 -> 2.3.2; source pak3.txt changed");
        expect(why["layer05-pak3"].short).toBe("1 package, 1 source");
        expect(why["layer06-cupy"].text).toBe("parent changed: layer05-pak3: 1 package changed: python3.14-numpy 2.3.1 -> 2.3.2; source pak3.txt changed");
        expect(why["layer06-cupy"].short).toBe("parent changed (layer05-pak3)");
        // layer06's own derivations do not depend on layer05's packages: its own blob is the same.
        expect(why["layer06-cupy"].newBlob).toBe(false);
    });

    test("an added package, and a removed one", () => {
        const added = contentsOf(megapak("2.3.1", { lark: true }));
        const a = whyChanged(order, added, before);
        expect(a["layer05-pak3"].text).toBe("1 package changed: + python3.14-lark 1.2.2");
        const r = whyChanged(order, before, added);
        expect(r["layer05-pak3"].text).toBe("1 package changed: - python3.14-lark 1.2.2");
    });

    test("a base package bump: the layer that holds it says which, the others parent changed with their own paths rebuilt", () => {
        const why = whyChanged(order, contentsOf(megapak("2.3.1", { python: "3.14.1" })), before);
        expect(why["layer04-pytorch"].text).toBe("1 package changed: python3 3.14.0 -> 3.14.1");
        expect(why["layer05-pak3"].text).toBe("parent changed: layer04-pytorch: 1 package changed: python3 3.14.0 -> 3.14.1; its own derivations are rebuilt on it, same packages and sources");
        expect(why["layer05-pak3"].newBlob).toBe(true);
        expect(why["layer06-cupy"].short).toBe("parent changed (layer04-pytorch)");
    });

    test("never published: new; the same lists with an unchanged parent: recipe changed", () => {
        expect(whyChanged(order, before, undefined)["layer05-pak3"]).toMatchObject({ change: "new", text: "new: never published", newBlob: true });
        // layer04's image gets another source of the same name (its assemble.sh@v2 is another file: a source change),
        // so build the recipe case by hand: the same lists and own paths, another image derivation.
        const recipe = whyChanged(order, { ...before, "layer04-pytorch": { ...before["layer04-pytorch"], drvPath: "/nix/store/00000000000000000000000000000000-layer04-pytorch.drv" } }, before);
        expect(recipe["layer04-pytorch"]).toEqual({
            change: "recipe", short: "recipe changed", newBlob: false,
            text: "recipe changed: the image's own derivation differs (its config or build), with the same packages and sources",
        });
        expect(recipe["layer05-pak3"].change).toBe("unchanged");
    });
});
