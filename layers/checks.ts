import { shellQuote } from "../lib/commands";
import { LayerstackError } from "../lib/errors";
import { Pak, pakDistributions } from "./packages";

/** The versions a stack's image must have; the checks compare against these. */
export interface CheckContext {
    readonly cuda: string;
    readonly python: string;
    readonly torch: string;
}

/** A smoke check: a POSIX sh script run inside the layer's image (`/bin/sh -c`). Exit 0 passes. */
export interface CheckSpec {
    /** Unique within the layer; the resource is `<layer id>-check-<name>`. */
    readonly name: string;
    readonly script: string;
    /** Needs a GPU: runs only where the check runner has one (the production GPU runner). */
    readonly gpu?: boolean;
}

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

/** Every distribution of a pak list is installed (importlib.metadata, not guessed imports). */
export function distsCheck(pak: Pak): CheckSpec {
    return { name: `${pak}-installed`, script: python("dists", DISTS, pakDistributions(pak)) };
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

/** ComfyUI starts and answers on its port. */
export const comfyuiCheck: CheckSpec = {
    name: "comfyui-answers",
    script: `cd "\${COMFYUI_DIR:-/opt/ComfyUI}"
python main.py --cpu --listen 127.0.0.1 --port 8188 > /tmp/comfyui.log 2>&1 &
pid=$!
i=0
until ${python("http", `import sys, urllib.request
urllib.request.urlopen(sys.argv[1], timeout=2).read()
print("answered", sys.argv[1])`, ["http://127.0.0.1:8188/system_stats"])}; do
  i=$((i + 1))
  if [ "$i" -ge 60 ] || ! kill -0 "$pid" 2>/dev/null; then tail -n 20 /tmp/comfyui.log; kill "$pid" 2>/dev/null; exit 1; fi
  sleep 1
done
kill "$pid"`,
};

/** A stack's change to a layer's checks (`layerstack:checks`). */
export interface CheckOverride {
    readonly name: string;
    /** The new script; with a known name it replaces that check, with a new name it adds one. */
    readonly script?: string;
    readonly gpu?: boolean;
    /** Drops the catalog's check of this name. */
    readonly skip?: boolean;
}

/** Applies a stack's overrides to a layer's catalog checks. Errors name the layer and check. */
export function applyOverrides(layerId: string, checks: readonly CheckSpec[], overrides: readonly CheckOverride[], key: string): CheckSpec[] {
    let out = [...checks];
    for (const o of overrides) {
        const known = out.some((c) => c.name === o.name);
        if (o.skip) {
            if (!known) throw new LayerstackError(`${key}: layer "${layerId}" has no check "${o.name}" to skip (it has: ${out.map((c) => c.name).join(", ") || "none"})`);
            out = out.filter((c) => c.name !== o.name);
        } else if (o.script === undefined) {
            throw new LayerstackError(`${key}: check "${o.name}" of layer "${layerId}" needs a script (or skip: true)`);
        } else if (known) {
            out = out.map((c) => (c.name === o.name ? { name: o.name, script: o.script!, gpu: o.gpu ?? c.gpu } : c));
        } else {
            out.push({ name: o.name, script: o.script, gpu: o.gpu });
        }
    }
    return out;
}
