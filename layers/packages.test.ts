import * as fs from "fs";
import * as path from "path";
import { distributionName, listDifferences, pakDistributions, normalizeDistribution } from "./packages";
import { FLAKE_LIST_ORDER, FlakeList, flakeDistributions, flakeModules } from "./flake";

test.each([
    ["accelerate", "accelerate"],
    ["imageio[ffmpeg]", "imageio"],
    ["qrcode[pil]", "qrcode"],
    ["GitPython", "GitPython"],
    ["git+https://github.com/openai/CLIP.git", "CLIP"],
    ["git+https://github.com/cozy-comfyui/cozy_comfyui@main#egg=cozy_comfyui", "cozy_comfyui"],
    ["git+https://github.com/ltdrdata/img2texture.git", "img2texture"],
    ["# Essentials", undefined],
    ["   ", undefined],
])("%s -> %s", (line, want) => expect(distributionName(line)).toBe(want));

test("the three paks list the seed's packages", () => {
    expect(pakDistributions("pak3")).toHaveLength(34); // 41 lines, of which 7 are comments or blank
    expect(pakDistributions("pak5")).toHaveLength(71);
    expect(pakDistributions("pak7")).toEqual(["dlib", "facexlib", "insightface", "CLIP", "cozy_comfyui", "cozy_comfy", "cstr", "ffmpy", "img2texture"]);
    expect(pakDistributions("pak3")).toContain("opencv-contrib-python-headless");
});

test("normalisation follows PEP 503 with underscores", () => {
    expect(normalizeDistribution("opencv-contrib-python")).toBe("opencv_contrib_python");
    expect(normalizeDistribution("Blend.Modes")).toBe("blend_modes");
});

describe("the Nix flake's lists (layers/flake.ts) against the old pip lists", () => {
    // Every difference, as the README's "The catalog and the real flake" lists it. pyyaml, psutil
    // and tqdm moved from pak5 to pak3; the rest of `dropped` is in no list of the Nix flake.
    test("pak3: ten packages dropped, four moved in from pak5 or added", () => {
        expect(listDifferences("pak3", flakeDistributions("pak3"))).toEqual({
            dropped: ["onnxruntime_gpu", "opencv_python", "opencv_python_headless", "pilgram", "pygit2", "python_ffmpeg", "scikit_build_core", "cupy_cuda12x", "fairscale", "torchdiffeq"],
            added: ["numpy", "pyyaml", "psutil", "tqdm"],
        });
        // opencv-python's cv2 comes from nixpkgs' opencv4, checked by import; cupy for CUDA 13 is layer 06's.
        expect(flakeModules("pak3")).toEqual(["cv2"]);
        expect(flakeDistributions("cupy")).toEqual(["cupy-cuda13x"]);
    });

    test("pak5: 41 packages not in the Nix pak5, 38 of them in no Nix list; requests and urllib3 added", () => {
        const d = listDifferences("pak5", flakeDistributions("pak5"));
        expect(d.added).toEqual(["requests", "urllib3"]);
        expect(d.dropped).toHaveLength(41);
        const everywhere = listDifferences("pak5", flakeDistributions(...FLAKE_LIST_ORDER)).dropped;
        expect(d.dropped.filter((x) => !everywhere.includes(x))).toEqual(["psutil", "pyyaml", "tqdm"]);
        expect(everywhere).toEqual(["alembic", "black", "blend_modes", "clip_interrogator", "color_matcher", "colour_science", "decord", "deepdiff", "dill",
            "fvcore", "gguf", "hydra_core", "imageio_ffmpeg", "importlib_metadata", "iopath", "mss", "piexif", "pixeloe", "py_cpuinfo", "pydantic_settings",
            "pygithub", "pymatting", "pynvml", "python_dateutil", "rembg", "requirements_parser", "rich_argparse", "rotary_embedding_torch",
            "segment_anything", "simpleeval", "spandrel", "torchsde", "transparent_background", "typer", "ultralytics", "uv", "yacs", "yapf"]);
    });

    test("pak7: the same nine packages", () => {
        expect(listDifferences("pak7", flakeDistributions("pak7"))).toEqual({ dropped: [], added: [] });
    });

    test("the dev fixture's images hold exactly the flake's lists (fixtures/megapak/layers.json)", () => {
        const spec = JSON.parse(fs.readFileSync(path.join(__dirname, "../fixtures/megapak/layers.json"), "utf8"));
        const of = (attr: string) => spec.layers.find((l: any) => l.attr === attr);
        const norm = (l: FlakeList) => flakeDistributions(l).map(normalizeDistribution);
        expect(of("layer02-python-tools").dists).toEqual(norm("buildTools"));
        expect(of("layer04-pytorch").dists).toEqual(norm("pytorch"));
        // layer05's own package list (files/pak3.txt, name==version: one derivation each) holds the rest of them.
        const listed = fs.readFileSync(path.join(__dirname, "../fixtures/megapak", of("layer05-pak3").packageList), "utf8")
            .split("\n").filter((l) => l && !l.startsWith("#")).map((l) => normalizeDistribution(l.split("==")[0]));
        expect([...of("layer05-pak3").dists, ...listed].sort()).toEqual([...norm("pak3")].sort());
        expect(listed).toHaveLength(6);
        expect(of("layer05-pak3").modules).toEqual(flakeModules("pak3"));
        expect(of("layer06-cupy").dists).toEqual(norm("cupy"));
        expect(of("layer07-pak5").dists).toEqual(norm("pak5"));
        expect(of("layer08-pak7").dists).toEqual(norm("pak7"));
        expect(of("layer10-performance").dists).toEqual(norm("performance"));
        // The real chain: 09 on 08, 10 on 09.
        expect(of("layer09-sam").parent).toBe("layer08-pak7");
        expect(of("layer10-performance").parent).toBe("layer09-sam");
    });
});
