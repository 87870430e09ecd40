/**
 * The user's real flake, as the catalog follows it: retif/ComfyUI-Docker,
 * `cu130-megapak-pt210-py314-nix/`, at the revision where the seeds' 12-flake layout was live
 * (one flake per layer under `layers/NN-*`, each `fromImage` the one before). Its Python
 * package lists are those of its `package-lists.nix`, written out here with the distribution
 * name each package installs (what `importlib.metadata` finds), so the checks ask the image for
 * what the flake really puts in it. The old Dockerfile's pip lists (layers/packages/pak*.txt)
 * are kept beside them only to say what the Nix flake dropped (layers/packages.ts,
 * `listDifferences`; README "The catalog and the real flake").
 */

/** Where the catalog's layers and lists are read from. */
export const MEGAPAK_FLAKE = {
    repository: "retif/ComfyUI-Docker",
    directory: "cu130-megapak-pt210-py314-nix",
    /** "Fix Docker builds: version detection, tags, and Python 3.14 compatibility", 2026-02-07. */
    revision: "f3ae734aaf5a4613a04b5a27dca5ca9e654eddd1",
} as const;

/** One package of a list: its Nix attribute and what it installs. */
export interface FlakePackage {
    /** As package-lists.nix names it: `ps.<name>` (nixpkgs' python314.pkgs) or `<file>Packages.<name>` (the flake's own pak3.nix, pak5.nix, pak7.nix, custom-packages.nix). */
    readonly nix: string;
    /** The distribution it installs (its dist-info), where it has one. */
    readonly dist?: string;
    /** A module it provides, checked by import where it installs no dist-info (nixpkgs' `opencv4` is CMake-built: `cv2`, no metadata). */
    readonly module?: string;
}

const ps = (name: string, dist = name): FlakePackage => ({ nix: `ps.${name}`, dist });
const own = (file: string, name: string, dist = name): FlakePackage => ({ nix: `${file}.${name}`, dist });

/**
 * package-lists.nix's lists, in its order (at MEGAPAK_FLAKE.revision). Where a nixpkgs
 * attribute is not the distribution's name, the distribution is given (`pyyaml` installs
 * PyYAML, `gitpython` GitPython, `sqlalchemy` SQLAlchemy; names compare PEP 503-normalised).
 */
export const FLAKE_LISTS = {
    /** Layer 02 (layers/02-python-tools/flake.nix: `python.withPackages (ps: [pip setuptools wheel packaging build])`). */
    buildTools: ["pip", "setuptools", "wheel", "packaging", "build"].map((n) => ps(n)),
    /** Layer 04: custom-packages.nix's torch and torchaudio wheels (2.10.0+cu130, cp314), nixpkgs' torchvision. */
    pytorch: [own("torchPackages", "torch"), ps("torchvision"), own("torchPackages", "torchaudio")],
    /** Layer 05. */
    pak3: [
        own("pak3Packages", "accelerate"), own("pak3Packages", "diffusers"), ps("huggingface-hub"), ps("transformers"),
        ...["numpy", "scipy", "pillow", "imageio", "scikit-learn", "scikit-image", "matplotlib", "pandas"].map((n) => ps(n)),
        { nix: "ps.opencv4", module: "cv2" },
        own("pak3Packages", "opencv-contrib-python"), own("pak3Packages", "opencv-contrib-python-headless"), own("pak3Packages", "kornia"),
        own("pak3Packages", "timm"), own("pak3Packages", "torchmetrics"), own("pak3Packages", "compel"), own("pak3Packages", "lark"),
        ps("pyyaml", "PyYAML"), ps("omegaconf"), ps("onnx"),
        ps("joblib"), ps("psutil"), ps("tqdm"), ps("regex"), own("pak3Packages", "nvidia-ml-py"),
        own("pak3Packages", "ftfy"),
    ],
    /** Layer 06: custom-packages.nix's cupy-cuda13x 14.0.0rc1 wheel (cp314). */
    cupy: [own("torchPackages", "cupy-cuda13x")],
    /** Layer 07. */
    pak5: [
        ...["aiohttp", "requests", "urllib3"].map((n) => ps(n)),
        ...["albumentations", "av", "einops", "numba", "numexpr"].map((n) => ps(n)),
        ...["peft", "safetensors", "sentencepiece", "tokenizers"].map((n) => ps(n)),
        own("pak5Packages", "addict"), ps("cachetools"), ps("chardet"), ps("filelock"), own("pak5Packages", "loguru"),
        ...["protobuf", "pydantic", "pydub", "rich", "toml", "typing-extensions"].map((n) => ps(n)),
        ps("gitpython", "GitPython"),
        ps("sqlalchemy", "SQLAlchemy"),
        ps("shapely"), ps("trimesh"),
        ps("webcolors"), ps("qrcode"),
        ps("yarl"), ps("tomli"), ps("pycocotools"),
    ],
    /** Layer 08 (pak7.nix: facexlib and insightface from PyPI, the six git packages with `buildFromGit`). */
    pak7: [
        ps("dlib"),
        ...["facexlib", "insightface", "clip", "cozy-comfyui", "cozy-comfy", "cstr", "ffmpy", "img2texture"].map((n) => own("pak7Packages", n)),
    ],
    /** Layer 10: custom-packages.nix's wheels (flash-attn 2.8.2, sageattention 2.2.0, nunchaku 1.0.2). */
    performance: ["flash-attn", "sageattention", "nunchaku"].map((n) => own("torchPackages", n)),
} satisfies Record<string, readonly FlakePackage[]>;

export type FlakeList = keyof typeof FLAKE_LISTS;

/** package-lists.nix's `all` (`allUpToPerformance`): every list, in layer order. */
export const FLAKE_LIST_ORDER: readonly FlakeList[] = ["buildTools", "pytorch", "pak3", "cupy", "pak5", "pak7", "performance"];

/** The distributions of lists, in order. */
export function flakeDistributions(...lists: FlakeList[]): string[] {
    return lists.flatMap((l) => FLAKE_LISTS[l].flatMap((p) => (p.dist ? [p.dist] : [])));
}

/** The modules of lists checked by import (packages that install no dist-info). */
export function flakeModules(...lists: FlakeList[]): string[] {
    return lists.flatMap((l) => FLAKE_LISTS[l].flatMap((p) => (p.module ? [p.module] : [])));
}
