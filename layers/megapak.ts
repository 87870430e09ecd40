import { CheckContext, CheckSpec } from "../lib/checks";
import { LayerSpec } from "../lib/graph";
import { comfyuiCheck, cupyCheck, distsCheck, importsCheck, nvccCheck, pythonCheck, torchChecks } from "./checks";

/** A layer of the ComfyUI megapak image, as the seed flake describes it. */
export interface CatalogLayer extends LayerSpec {
    /** Two-digit position in the seed's 12-step build. */
    readonly step: number;
    readonly title: string;
    /** What the layer adds, per the seed. */
    readonly contents: readonly string[];
    /** Disabled layers are kept in the catalog (and the flake) but not built. */
    readonly enabled: boolean;
    /** The layer's smoke checks, for the stack's CUDA/Python/PyTorch versions. */
    readonly checks?: (ctx: CheckContext) => CheckSpec[];
}

/**
 * The 12 megapak layers. They form a plain chain; layer 09 (SAM-2/3) is not implemented
 * upstream, so layer 10 builds on layer 08. No layer declares a format: the push detects
 * each image's kind from the built output (lib/commands/image.ts).
 */
export const MEGAPAK: readonly CatalogLayer[] = [
    {
        step: 1, id: "layer01-base-cuda", attr: "layer01-base-cuda", enabled: true,
        title: "Base + CUDA",
        contents: ["bash, coreutils, findutils", "CUDA Toolkit 13.0 + cuDNN", "gcc, cmake, ninja, git", "ffmpeg, x264, x265"],
        checks: (ctx) => [nvccCheck(ctx)],
    },
    {
        step: 2, id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda", enabled: true,
        title: "Python + tools",
        contents: ["Python 3.14 (free-threaded)", "pip, setuptools, wheel, packaging", "aria2, vim, fish"],
        checks: (ctx) => [pythonCheck(ctx)],
    },
    {
        step: 3, id: "layer03-gcc15", attr: "layer03-gcc15", parent: "layer02-python-tools", enabled: true,
        title: "GCC 15",
        contents: ["gcc 15, g++", "default compiler via CC/CXX"],
    },
    {
        step: 4, id: "layer04-pytorch", attr: "layer04-pytorch", parent: "layer03-gcc15", enabled: true,
        title: "PyTorch",
        contents: ["PyTorch 2.10.0 + CUDA 13.0", "torchvision", "torchaudio"],
        checks: (ctx) => torchChecks(ctx),
    },
    {
        step: 5, id: "layer05-pak3", attr: "layer05-pak3", parent: "layer04-pytorch", enabled: true,
        title: "pak3: core ML essentials",
        contents: ["the pak3.txt list: accelerate, diffusers, transformers, scipy, pandas, opencv, kornia, timm, ..."],
        checks: () => [distsCheck("pak3")],
    },
    {
        step: 6, id: "layer06-cupy", attr: "layer06-cupy", parent: "layer05-pak3", enabled: true,
        title: "CuPy",
        contents: ["cupy-cuda13x 14.0.0rc1"],
        checks: () => [cupyCheck],
    },
    {
        step: 7, id: "layer07-pak5", attr: "layer07-pak5", parent: "layer06-cupy", enabled: true,
        title: "pak5: extended libraries",
        contents: ["the pak5.txt list: aiohttp, albumentations, av, einops, numba, peft, safetensors, ..."],
        checks: () => [distsCheck("pak5")],
    },
    {
        step: 8, id: "layer08-pak7", attr: "layer08-pak7", parent: "layer07-pak5", enabled: true,
        title: "pak7: face analysis + git packages",
        contents: ["the pak7.txt list: dlib, facexlib, insightface, CLIP, cozy-comfyui, ..."],
        checks: () => [distsCheck("pak7")],
    },
    {
        step: 9, id: "layer09-sam", attr: "layer09-sam", parent: "layer08-pak7", enabled: false,
        title: "SAM-2 & SAM-3 (not implemented upstream)",
        contents: ["needs special git builds with custom flags"],
    },
    {
        step: 10, id: "layer10-performance", attr: "layer10-performance", parent: "layer08-pak7", enabled: true,
        title: "Performance libraries",
        contents: ["flash-attn 2.8.2", "sageattention 2.2.0", "nunchaku 1.0.2"],
        checks: () => [importsCheck("perf-libs-import", ["flash_attn", "sageattention", "nunchaku"])],
    },
    {
        step: 11, id: "layer11-app", attr: "layer11-app", parent: "layer10-performance", enabled: true,
        title: "Application scripts",
        contents: ["builder scripts", "runner scripts (entrypoint)", "ComfyUI bundle directory structure"],
    },
    {
        step: 12, id: "layer12-comfyui", attr: "layer12-comfyui", parent: "layer11-app", enabled: true,
        title: "ComfyUI bundle (final)",
        contents: ["entrypoint", "volumes", "port 8188"],
        checks: () => [comfyuiCheck],
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
