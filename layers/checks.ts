import { CheckContext, CheckSpec } from "../lib/checks";
import { shellQuote } from "../lib/shell";
import { FlakeList, flakeDistributions, flakeModules } from "./flake";

/**
 * A Python program run as `python -c`. Its first line names what it checks; the fixture
 * flake's stand-in interpreter answers the same programs by that name.
 */
function python(kind: string, body: string, args: readonly string[] = []): string {
    const program = `# layerstack-check: ${kind}\n${body}`;
    return ["python", "-c", shellQuote(program), ...args.map(shellQuote)].join(" ");
}

const DISTS = `import importlib.metadata as m, sys
missing = []
for name in sys.argv[1:]:
    try:
        m.distribution(name)
    except m.PackageNotFoundError:
        missing.append(name)
if missing:
    sys.exit("not installed: " + " ".join(missing))
print(len(sys.argv) - 1, "distributions installed")`;

/**
 * Every distribution of the flake's lists is installed (importlib.metadata, not guessed
 * imports), and every module of a package with no dist-info imports. Follows the flake's
 * package-lists.nix (layers/flake.ts): the lists the layer's `python.withPackages` installs.
 */
export function listCheck(name: string, ...lists: FlakeList[]): CheckSpec[] {
    const modules = flakeModules(...lists);
    return [
        { name: `${name}-installed`, script: python("dists", DISTS, flakeDistributions(...lists)) },
        ...(modules.length ? [importsCheck(`${name}-modules`, modules)] : []),
    ];
}

export function nvccCheck(ctx: CheckContext): CheckSpec {
    return {
        name: "nvcc-version",
        script: `out=$(nvcc --version); printf '%s\\n' "$out"; printf '%s\\n' "$out" | grep -qF ${shellQuote(`release ${ctx.cuda},`)}`,
    };
}

export function pythonCheck(ctx: CheckContext): CheckSpec {
    return {
        name: "python-version",
        script: `out=$(python --version 2>&1); printf '%s\\n' "$out"; case "$out" in ${shellQuote(`Python ${ctx.python}`)}|${shellQuote(`Python ${ctx.python}.`)}*) ;; *) exit 1 ;; esac`,
    };
}

export function torchChecks(ctx: CheckContext): CheckSpec[] {
    return [
        {
            name: "torch-cuda-version",
            script: python("torch", `import sys, torch
print("torch", torch.__version__, "cuda", torch.version.cuda)
if torch.version.cuda != sys.argv[1]:
    sys.exit("torch was built for CUDA %s, not %s" % (torch.version.cuda, sys.argv[1]))`, [ctx.cuda]),
        },
        {
            name: "torch-sees-gpu",
            gpu: true,
            script: python("torch-gpu", `import sys, torch
ok = torch.cuda.is_available()
print("cuda available:", ok, "devices:", torch.cuda.device_count())
sys.exit(0 if ok else "torch.cuda.is_available() is False: is libcuda on LD_LIBRARY_PATH?")`),
        },
    ];
}

export const cupyCheck: CheckSpec = {
    name: "cupy-sees-gpu",
    gpu: true,
    script: python("cupy-gpu", `import sys, cupy
n = cupy.cuda.runtime.getDeviceCount()
print("cupy", cupy.__version__, "devices:", n)
sys.exit(0 if n > 0 else "cupy sees no device")`),
};

export function importsCheck(name: string, modules: string[]): CheckSpec {
    return {
        name,
        script: python("imports", `import importlib, sys
for name in sys.argv[1:]:
    importlib.import_module(name)
    print("imported", name)`, modules),
    };
}

/**
 * Layer 11's files (layers/11-app/flake.nix `copyToRoot`: builder-scripts/, runner-scripts/ and
 * an empty default-comfyui-bundle/) and the entrypoint layer 12's `Cmd` runs
 * (layers/12-comfyui/flake.nix: `bash /runner-scripts/entrypoint.sh`). No image of the flake
 * holds ComfyUI itself: the entrypoint copies it from the bundle directory at run time.
 */
export const appFilesCheck: CheckSpec = {
    name: "app-files",
    script: `for f in /runner-scripts/entrypoint.sh /builder-scripts/preload-cache.sh; do
  [ -x "$f" ] || { echo "missing or not executable: $f" >&2; exit 1; }
  echo "present: $f"
done
[ -d /default-comfyui-bundle ] || { echo "missing: /default-comfyui-bundle/" >&2; exit 1; }
echo "present: /default-comfyui-bundle/"`,
};

/** Python 3.14 is nixpkgs' `python314`, the standard build with the GIL (not `python314FreeThreading`). */
export const pythonGilCheck: CheckSpec = {
    name: "python-gil",
    script: python("gil", `import sys
gil = sys._is_gil_enabled() if hasattr(sys, "_is_gil_enabled") else True
print("GIL enabled:", gil)
sys.exit(0 if gil else "this Python is free-threaded; the flake builds python314 (GIL)")`),
};
