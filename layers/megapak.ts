import { CheckContext, CheckSpec } from "../lib/checks";
import { LayerSpec } from "../lib/graph";
import { appFilesCheck, cupyCheck, importsCheck, listCheck, nvccCheck, pythonCheck, pythonGilCheck, torchChecks } from "./checks";
import { FLAKE_LIST_ORDER } from "./flake";

/** A layer of the ComfyUI megapak image, as the user's flake builds it (layers/flake.ts MEGAPAK_FLAKE). */
export interface CatalogLayer extends LayerSpec {
    /** Two-digit position in the flake's 12-step build (`layers/NN-<name>`). */
    readonly step: number;
    readonly title: string;
    /** What the layer adds, per its flake (`layers/NN-<name>/flake.nix` at MEGAPAK_FLAKE.revision). */
    readonly contents: readonly string[];
    /** Disabled layers are kept in the catalog (and the flake) but not built. */
    readonly enabled: boolean;
    /** The layer's smoke checks, for the stack's CUDA/Python/PyTorch versions. */
    readonly checks?: (ctx: CheckContext) => CheckSpec[];
}

/**
 * The 12 megapak layers, the chain of the user's flake at MEGAPAK_FLAKE.revision: each
 * `layers/NN-<name>/flake.nix` is a `dockerTools.buildImage` (12: `streamLayeredImage`)
 * `fromImage` the one before, layer 09 included (a placeholder that installs layer 08's
 * environment again: SAM-2/3 are not built yet) and layer 10 from layer 09. Each Python layer
 * is `python314.withPackages` of package-lists.nix's lists up to it (layers/flake.ts), and its
 * config's Env puts that environment's bin/ on PATH. No layer declares a format: the push
 * detects each image's kind from the built output (lib/commands/image.ts).
 */
export const MEGAPAK: readonly CatalogLayer[] = [
    {
        step: 1, id: "layer01-base-cuda", attr: "layer01-base-cuda", enabled: true,
        title: "Base + CUDA",
        contents: ["bash, coreutils, findutils, gnugrep, gnused, gnutar, gzip, which", "cudaPackages_13_0: cudatoolkit + cudnn (one symlinkJoin)", "gcc, cmake, ninja, git", "ffmpeg, x264, x265",
            "Env: PATH with cudatoolkit's bin, CUDA_HOME, LD_LIBRARY_PATH of cudatoolkit and cudnn"],
        // layers/01-base-cuda/flake.nix: cudatoolkit's bin is on the image's PATH.
        checks: (ctx) => [nvccCheck(ctx)],
    },
    {
        step: 2, id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda", enabled: true,
        title: "Python + tools",
        contents: ["Python 3.14: nixpkgs python314, the standard (GIL) build", "pip, setuptools, wheel, packaging, build", "aria2, vim, fish"],
        // layers/02-python-tools/flake.nix: `python = pkgs.python314`; package-lists.nix buildTools.
        checks: (ctx) => [pythonCheck(ctx), pythonGilCheck, ...listCheck("build-tools", "buildTools")],
    },
    {
        step: 3, id: "layer03-gcc15", attr: "layer03-gcc15", parent: "layer02-python-tools", enabled: true,
        title: "GCC (nixpkgs' default gcc, meant as 15)",
        contents: ["gcc, binutils", "CC, CXX, CPP in its Env"],
    },
    {
        step: 4, id: "layer04-pytorch", attr: "layer04-pytorch", parent: "layer03-gcc15", enabled: true,
        title: "PyTorch",
        contents: ["torch 2.10.0+cu130 and torchaudio (custom-packages.nix wheels, cp314)", "torchvision (nixpkgs)"],
        // layers/04-pytorch/flake.nix, custom-packages.nix (torch 2.10.0+cu130); package-lists.nix pytorch.
        checks: (ctx) => [...torchChecks(ctx), ...listCheck("pytorch", "pytorch")],
    },
    {
        step: 5, id: "layer05-pak3", attr: "layer05-pak3", parent: "layer04-pytorch", enabled: true,
        title: "pak3: core ML essentials",
        contents: ["package-lists.nix pak3: accelerate, diffusers, huggingface-hub, transformers, numpy, scipy, opencv4, kornia, timm, ..."],
        // layers/05-pak3/flake.nix, package-lists.nix pak3 (opencv4 by its module, cv2).
        checks: () => listCheck("pak3", "pak3"),
    },
    {
        step: 6, id: "layer06-cupy", attr: "layer06-cupy", parent: "layer05-pak3", enabled: true,
        title: "CuPy",
        contents: ["cupy-cuda13x 14.0.0rc1 (custom-packages.nix wheel, cp314)"],
        // layers/06-cupy/flake.nix, custom-packages.nix cupy-cuda13x; package-lists.nix cupy.
        checks: () => [...listCheck("cupy", "cupy"), cupyCheck],
    },
    {
        step: 7, id: "layer07-pak5", attr: "layer07-pak5", parent: "layer06-cupy", enabled: true,
        title: "pak5: extended libraries",
        contents: ["package-lists.nix pak5: aiohttp, requests, albumentations, av, einops, numba, peft, safetensors, ..."],
        // layers/07-pak5/flake.nix (`packageList.allUpToPak5`), package-lists.nix pak5.
        checks: () => listCheck("pak5", "pak5"),
    },
    {
        step: 8, id: "layer08-pak7", attr: "layer08-pak7", parent: "layer07-pak5", enabled: true,
        title: "pak7: face analysis + git packages",
        contents: ["package-lists.nix pak7: dlib, facexlib, insightface, clip, cozy-comfyui, cozy-comfy, cstr, ffmpy, img2texture"],
        // layers/08-pak7/flake.nix (`packageList.allUpToPak7`), package-lists.nix pak7.
        checks: () => listCheck("pak7", "pak7"),
    },
    {
        step: 9, id: "layer09-sam", attr: "layer09-sam", parent: "layer08-pak7", enabled: true,
        title: "SAM-2 & SAM-3 (placeholder)",
        contents: ["layer 08's environment again (`packageList.allUpToPak7`): SAM-2/3 are not built yet"],
        // layers/09-sam/flake.nix: a placeholder image `fromImage` layer 08; nothing of its own to check.
    },
    {
        step: 10, id: "layer10-performance", attr: "layer10-performance", parent: "layer09-sam", enabled: true,
        title: "Performance libraries",
        contents: ["flash-attn 2.8.2, sageattention 2.2.0, nunchaku 1.0.2 (custom-packages.nix wheels)"],
        // layers/10-performance/flake.nix (`fromImage = layer09`), package-lists.nix performance. Their
        // CUDA extensions load the driver's libcuda when imported, so the imports need the GPU runner.
        checks: () => [...listCheck("performance", "performance"), { ...importsCheck("perf-libs-import", ["flash_attn", "sageattention", "nunchaku"]), gpu: true }],
    },
    {
        step: 11, id: "layer11-app", attr: "layer11-app", parent: "layer10-performance", enabled: true,
        title: "Application scripts",
        contents: ["/builder-scripts", "/runner-scripts (entrypoint.sh)", "/default-comfyui-bundle (empty: ComfyUI is fetched at run time)"],
        // layers/11-app/flake.nix copyToRoot.
        checks: () => [appFilesCheck],
    },
    {
        step: 12, id: "layer12-comfyui", attr: "layer12-comfyui", parent: "layer11-app", enabled: true,
        title: "Final image",
        contents: ["Cmd: bash /runner-scripts/entrypoint.sh", "WorkingDir and volume /root", "port 8188", "package-lists.nix all"],
        // layers/12-comfyui/flake.nix: `python.withPackages (ps: packageList.allUpToPerformance)`,
        // the entrypoint of layer 11. No ComfyUI main.py: no image of the flake contains ComfyUI.
        checks: () => [...listCheck("all", ...FLAKE_LIST_ORDER), appFilesCheck],
    },
];

/** The checks of a catalog layer for a stack's versions (none for a layer not in the catalog). */
export function catalogChecks(id: string, ctx: CheckContext): CheckSpec[] {
    return MEGAPAK.find((l) => l.id === id)?.checks?.(ctx) ?? [];
}

/** The enabled catalog layers, as plain specs for the pipeline. */
export function megapakLayers(): LayerSpec[] {
    return MEGAPAK.filter((l) => l.enabled).map(({ id, attr, parent }) => ({ id, attr, parent }));
}
