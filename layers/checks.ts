import { CheckContext, CheckSpec } from "../lib/checks";
import { shellQuote } from "../lib/shell";
import { Pak, pakDistributions } from "./packages";

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
