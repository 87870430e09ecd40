// The GPU runner's preflight, run for real with sh against stand-in host tools (nvidia-smi,
// nix, docker, nvidia-ctk) on a PATH of their own, so each failure's message is checked
// here; docs/gpu/ records the same script on a real GPU host.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PREFLIGHT_SCRIPT, runnerStdin } from "./runner";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-preflight-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A PATH dir with the base tools the script uses, plus the given stand-ins (name -> sh body). */
function host(name: string, tools: Record<string, string>): string {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    for (const t of ["sh", "hostname", "sort", "head", "tr", "df", "awk", "dirname", "id", "cat"]) {
        const real = spawnSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim();
        fs.symlinkSync(real, path.join(dir, t));
    }
    for (const [t, body] of Object.entries(tools)) fs.writeFileSync(path.join(dir, t), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return dir;
}

const NVIDIA_SMI = (driver: string) => `case "$*" in *driver_version*) echo ${driver} ;; *name*) echo "NVIDIA H100 80GB HBM3" ;; esac`;
const NIX = `echo "nix (Nix) 2.24.9"`;
const DOCKER = (runtimes: string) => `case "$1" in version) echo 27.3.1 ;; info) echo '${runtimes}' ;; esac`;

function preflight(pathDir: string, extra: Record<string, string> = {}) {
    const stdin = runnerStdin({ RUNNER_DIR: path.join(root, "home", "actions-runner"), MIN_DRIVER: "580.65.06", CUDA_VERSION: "13.0", MIN_FREE_GB: "0", ...extra });
    const r = spawnSync(path.join(pathDir, "sh"), ["-c", PREFLIGHT_SCRIPT], { input: stdin, encoding: "utf8", env: { PATH: pathDir, HOME: root } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("runner preflight (PREFLIGHT_SCRIPT under sh)", () => {
    test("a host with a new enough driver and Nix passes and reports its facts", () => {
        const r = preflight(host("ok", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX }));
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^driver=580\.82\.07\ngpu=NVIDIA H100 80GB HBM3\nnix=nix \(Nix\) 2\.24\.9\nfree_gb=\d+\n$/);
    });

    test("each missing or too old part fails with a message that names it", () => {
        const cases: [string, Record<string, string>, Record<string, string>, string][] = [
            ["nosmi", { nix: NIX }, {}, "nvidia-smi not found: install the NVIDIA driver >= 580.65.06 (needed by CUDA 13.0)"],
            ["olddriver", { "nvidia-smi": NVIDIA_SMI("570.124.06"), nix: NIX }, {}, "NVIDIA driver 570.124.06 is too old for CUDA 13.0, which needs >= 580.65.06"],
            ["baddriver", { "nvidia-smi": NVIDIA_SMI("NVIDIA-SMI has failed"), nix: NIX }, {}, "nvidia-smi did not report a driver version"],
            ["nonix", { "nvidia-smi": NVIDIA_SMI("580.82.07") }, {}, "Nix is not installed"],
            ["nodisk", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX }, { MIN_FREE_GB: "99999999" }, "the runner needs 99999999 GB"],
            ["nodocker", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX }, { CHECK_DOCKER_GPU: "true" }, "docker not found: the layers' smoke checks run in Docker containers here"],
            ["nodaemon", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, docker: "echo 'permission denied while trying to connect to the Docker daemon socket' >&2; exit 1" }, { CHECK_DOCKER_GPU: "true" },
                "docker cannot reach its daemon as"],
            ["noruntime", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, docker: DOCKER('{"runc":{"path":"runc"}}') }, { CHECK_DOCKER_GPU: "true" },
                "Docker has no nvidia runtime and nvidia-ctk is missing: install the NVIDIA Container Toolkit"],
        ];
        for (const [name, tools, extra, message] of cases) {
            const r = preflight(host(name, tools), extra);
            expect({ name, code: r.code, stdout: r.stdout }).toEqual({ name, code: 1, stdout: "" });
            expect(r.stderr).toContain("GPU runner preflight on ");
            expect(r.stderr).toContain(message);
        }
    });

    test("with CHECK_DOCKER_GPU, Docker with the nvidia runtime (or the toolkit's CDI) passes", () => {
        const withRuntime = preflight(host("dockerok", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, docker: DOCKER('{"nvidia":{"path":"nvidia-container-runtime"},"runc":{}}') }), { CHECK_DOCKER_GPU: "true" });
        expect(withRuntime.stderr).toBe("");
        expect(withRuntime.stdout).toMatch(/^docker=27\.3\.1\ndriver=580\.82\.07\ngpu=/);
        const withCdi = preflight(host("dockercdi", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, docker: DOCKER('{"runc":{}}'), "nvidia-ctk": "exit 0" }), { CHECK_DOCKER_GPU: "true" });
        expect(withCdi.code).toBe(0);
        expect(withCdi.stdout).toContain("docker=27.3.1\n");
    });
});
