// Production checks on the GPU runner, through @pulumi/docker (which cannot run here: no
// Docker daemon, no GPU). Pulumi's mocks stand in for the Docker provider; the inputs it
// would get (host, registry auth, image by digest, GPUs, entrypoint, environment) are
// asserted, and the verdict script that turns a container's exit code into pass or fail
// runs for real.
import * as path from "path";
import { spawnSync } from "child_process";
import * as pulumi from "@pulumi/pulumi";
import { isSecret, valueOf, fakeManifest, Recorded } from "../test/support/mocks";

const PASSWORD = "ghp_registry-sentinel-3141";
const DIGEST = `sha256:${"ab".repeat(32)}`;
const recorded: Recorded[] = [];
/** Exit code and log each check container "ran" with, by check name. */
const runs: Record<string, { exitCode: number; logs: string }> = {};
pulumi.runtime.setMocks({
    newResource(args) {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state: Record<string, unknown> = { ...args.inputs };
        if (args.name.endsWith("-push")) state.stdout = `${DIGEST}\n${fakeManifest([10, 20])}`;
        if (args.type === "docker:index/remoteImage:RemoteImage") state.imageId = `sha256:${"ee".repeat(32)}`;
        // The image's config as the registry would give it, through the real CHECK_ENV_JQ.
        if (args.name.endsWith("-check-image-env")) state.stdout = checkEnvOf(IMAGE_CONFIG);
        if (args.type === "docker:index/container:Container") {
            const check = Object.keys(runs).find((c) => args.name.endsWith(`-${c}`));
            if (check) Object.assign(state, { exitCode: runs[check].exitCode, containerLogs: runs[check].logs });
        }
        return { id: `${args.name}-id`, state };
    },
    call(args) {
        // The read of the stack's last outputs (lib/changeReport.ts): a new stack has none.
        if (args.token === "pulumi:pulumi:readStackOutputs") return { name: args.inputs.name, outputs: {} };
        throw new Error(`unexpected invoke ${args.token}`);
    },
}, "layerstack", "cu130", false, "organization");

/** A Nix image's config: a store-path PATH and an LD_LIBRARY_PATH of its own, as the user's flake sets them. */
const IMAGE_CONFIG = { config: { Env: ["PATH=/usr/bin:/bin:/nix/store/aaaa-python3-env/bin", "LD_LIBRARY_PATH=/nix/store/bbbb-cudatoolkit/lib:/nix/store/cccc-cudnn/lib", "PYTHONUNBUFFERED=1"], WorkingDir: "/root" } };
function checkEnvOf(config: object): string {
    const r = spawnSync("jq", ["-c", "--arg", "home", "", commands.CHECK_ENV_JQ], { input: JSON.stringify(config), encoding: "utf8" });
    if (r.status !== 0) throw new Error(`jq: ${r.stderr}`);
    return r.stdout;
}

import type * as pipelineModule from "./imagePipeline";
import * as commands from "../lib/commands";
let mod: typeof pipelineModule;
beforeAll(async () => { mod = await import("./imagePipeline"); });
const FLAKE = `path:${path.resolve(__dirname, "../fixtures/megapak")}`;
const find = (name: string) => {
    const r = recorded.find((x) => x.name === name);
    if (!r) throw new Error(`no resource ${name}; have ${recorded.map((x) => x.name).join(", ")}`);
    return r;
};

function pipeline(name: string, dockerHost: string, checks: Record<string, { name: string; script: string; gpu?: boolean }[]>) {
    return new mod.ImagePipeline(name, {
        flake: FLAKE, registry: "ghcr.io", repository: "owner/megapak", variant: "cu130",
        layers: [
            { id: `${name}-base`, attr: "layer01-base-cuda" },
            { id: `${name}-torch`, attr: "layer02-python-tools", parent: `${name}-base` },
            { id: `${name}-leaf`, attr: "layer03-gcc15", parent: `${name}-torch` },
        ],
        registryAuth: { username: "owner", password: pulumi.secret(PASSWORD) },
        checks: new Map(Object.entries(checks)),
        checkHost: { dockerHost },
    });
}

/** Runs the verdict script as the command provider would: sh -c, with the environment. */
function verdict(env: Record<string, string>) {
    const r = spawnSync("sh", ["-c", commands.RUNNER_CHECK_VERDICT_SCRIPT], { env: { PATH: process.env.PATH, ...env }, encoding: "utf8" });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("RunnerChecks (checks on the GPU runner through @pulumi/docker)", () => {
    test("one Docker provider on the runner, pulling by digest with secret registry auth; one GPU container per check", async () => {
        runs["cuda-available"] = { exitCode: 0, logs: "True\n" };
        const p = pipeline("prod", "ssh://ci@gpu1.example.com:2222", {
            "prod-torch": [{ name: "torch-import", script: "python -c 'import torch'" }, { name: "cuda-available", script: "python -c 'import torch; assert torch.cuda.is_available()'", gpu: true }],
        });
        await valueOf(p.layers);
        const torch = p.layerComponents.get("prod-torch")!;
        await valueOf(torch.checks!.gate[1].urn);

        const provider = find("prod-check-host");
        expect(provider.type).toBe("pulumi:providers:docker");
        expect(provider.inputs.host).toBe("ssh://ci@gpu1.example.com:2222");
        // No daemon ping when the provider is configured, so a preview opens no SSH connection.
        expect(provider.inputs.disableDockerDaemonCheck).toBe("true");
        // A provider's non-string inputs reach it JSON-encoded.
        expect(JSON.parse(provider.inputs.sshOpts as string)).toEqual(["-o", "BatchMode=yes", "-o", "ConnectTimeout=30"]);
        expect(JSON.stringify(provider.inputs.registryAuth)).toContain(PASSWORD);
        expect(recorded.filter((r) => r.type === "pulumi:providers:docker")).toHaveLength(1);

        const image = find("prod-torch-check-image");
        expect(image.type).toBe("docker:index/remoteImage:RemoteImage");
        expect(image.inputs).toMatchObject({ name: `ghcr.io/owner/megapak/prod-torch@${DIGEST}`, keepLocally: false });

        for (const [check, script] of [["torch-import", "python -c 'import torch'"], ["cuda-available", "python -c 'import torch; assert torch.cuda.is_available()'"]]) {
            const c = find(`prod-torch-check-${check}`);
            expect(c.type).toBe("docker:index/container:Container");
            expect(c.inputs).toMatchObject({
                image: `sha256:${"ee".repeat(32)}`, entrypoints: ["sh"], command: ["-c", script],
                gpus: "all", attach: true, logs: true, mustRun: false, rm: false, start: true, networkMode: "none",
            });
            // The image's own Env, in its order; only the GPU's needs added after it.
            const envs = c.inputs.envs as string[];
            expect(envs).toEqual([
                "PATH=/usr/bin:/bin:/nix/store/aaaa-python3-env/bin",
                "LD_LIBRARY_PATH=/nix/store/bbbb-cudatoolkit/lib:/nix/store/cccc-cudnn/lib:/run/opengl-driver/lib:/usr/lib/x86_64-linux-gnu:/usr/lib64:/usr/local/nvidia/lib64",
                "PYTHONUNBUFFERED=1",
                "NVIDIA_VISIBLE_DEVICES=all",
                "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
            ]);
            // The libcuda trap: the toolkit's injected directories are on the library path, after the image's own entries.
            const ld = envs.find((e) => e.startsWith("LD_LIBRARY_PATH="))!.slice("LD_LIBRARY_PATH=".length).split(":");
            expect(ld.slice(0, 2)).toEqual(["/nix/store/bbbb-cudatoolkit/lib", "/nix/store/cccc-cudnn/lib"]);
            expect(ld).toEqual(expect.arrayContaining(["/usr/lib/x86_64-linux-gnu", "/usr/lib64", "/run/opengl-driver/lib"]));
            const v = find(`prod-torch-check-${check}-verdict`);
            expect(v.type).toBe("command:local:Command");
            expect(v.inputs.create).toBe(commands.RUNNER_CHECK_VERDICT_SCRIPT);
            expect(v.inputs.triggers).toEqual([`prod-torch-check-${check}-id`]);
        }
        // The GPU check runs here (the runner has GPUs), and gates the layer with the other.
        expect(torch.checks!.skipped).toEqual([]);
        const gate = await valueOf(pulumi.all(torch.gate.map((r) => r.urn)));
        expect(gate.map((urn) => urn.split("::").pop())).toEqual(["prod-torch-push", "prod-torch-check-torch-import-verdict", "prod-torch-check-cuda-available-verdict"]);
        const env = find("prod-torch-check-cuda-available-verdict").inputs.environment as Record<string, string>;
        expect(env).toMatchObject({
            LAYERSTACK_LAYER: "prod-torch", LAYERSTACK_CHECK_NAME: "cuda-available", LAYERSTACK_IMAGE_REF: `ghcr.io/owner/megapak/prod-torch@${DIGEST}`,
            LAYERSTACK_EXIT_CODE: "0", LAYERSTACK_CHECK_LOGS: "True",
        });
        expect(env.LAYERSTACK_CONTAINER_URN).toMatch(/::prod-torch-check-cuda-available$/);
        // Layers without checks get no containers; nothing local (skopeo/bwrap) runs a check.
        expect(recorded.some((r) => r.name.startsWith("prod-base-check") || r.name.startsWith("prod-leaf-check"))).toBe(false);
        // The one other local command reads the image's config from the registry (no pull, no unpack).
        expect(recorded.filter((r) => r.type === "command:local:Command" && r.name.includes("-check-") && !r.name.endsWith("-verdict")).map((r) => r.name)).toEqual(["prod-torch-check-image-env"]);
        // With a password in it, the environment reaches the provider as one secret (Pulumi's envelope).
        const envRead = (find("prod-torch-check-image-env").inputs.environment as { value: Record<string, unknown> }).value;
        expect(envRead.LAYERSTACK_SCRIPT).toBe(commands.IMAGE_CONFIG_ENV_SCRIPT);
        expect(envRead.LAYERSTACK_IMAGE_REF).toBe(`ghcr.io/owner/megapak/prod-torch@${DIGEST}`);
        expect(recorded.some((r) => r.type === "command:local:Command" && JSON.stringify(r.inputs).includes("umoci raw unpack"))).toBe(false);
    });

    test("the registry password is secret in the provider and appears in no command, container or verdict", async () => {
        const p = pipeline("sec", "unix:///var/run/docker.sock", { "sec-base": [{ name: "nvcc-version", script: "nvcc --version" }] });
        await valueOf(p.layers);
        await valueOf(p.layerComponents.get("sec-base")!.checks!.gate[0].urn);
        const provider = find("sec-check-host");
        expect(provider.inputs.host).toBe("unix:///var/run/docker.sock");
        expect(provider.inputs.disableDockerDaemonCheck).toBe("true");
        expect(provider.inputs.sshOpts).toBeUndefined();
        const auth = provider.inputs.registryAuth as Record<string, unknown>;
        // Pulumi's secret envelope: the whole list reaches the provider as a secret.
        expect(auth["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
        expect(JSON.parse(auth.value as string)).toEqual([{ address: "ghcr.io", username: "owner", password: PASSWORD }]);
        for (const r of recorded.filter((x) => x.name.startsWith("sec-") && x.name !== "sec-check-host" && !x.name.endsWith("-push") && !x.name.endsWith("-in-registry") && !x.name.endsWith("-check-image-env"))) {
            expect(JSON.stringify(r.inputs)).not.toContain(PASSWORD);
        }
        // The config read logs in like the push: the password only as a secret environment variable.
        const envRead = find("sec-base-check-image-env").inputs.environment as Record<string, any>;
        expect(envRead["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
        expect(envRead.value.LAYERSTACK_REGISTRY_PASSWORD).toBe(PASSWORD);
        expect(JSON.stringify({ ...envRead.value, LAYERSTACK_REGISTRY_PASSWORD: undefined })).not.toContain(PASSWORD);
        expect(commands.IMAGE_CONFIG_ENV_SCRIPT).not.toContain(PASSWORD);
        // The registry read-back (RegistryImage) gets the password as a secret input, in Pulumi's envelope.
        const readBack = find("sec-base-in-registry").inputs;
        expect(readBack.password).toEqual({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value: PASSWORD });
        expect(JSON.stringify({ ...readBack, password: undefined })).not.toContain(PASSWORD);
        for (const script of [commands.RUNNER_CHECK_VERDICT_SCRIPT, ...commands.RUNNER_CHECK_ENV]) expect(script).not.toContain(PASSWORD);
    });

    test("a failing container's verdict carries its exit code and log tail", async () => {
        runs["torch-cuda"] = { exitCode: 3, logs: "\u0001\u0000\u0000\u0000\u0000\u0000\u0000\u0012torch 2.10.0+cu130\n\u0002\u0000\u0000\u0000\u0000\u0000\u0000\u001fAssertionError: no CUDA device\r\n" };
        const p = pipeline("bad", "ssh://ci@gpu1", { "bad-torch": [{ name: "torch-cuda", script: "python -c 'import torch; assert torch.cuda.is_available(), \"no CUDA device\"'" }] });
        await valueOf(p.layers);
        await valueOf(p.layerComponents.get("bad-torch")!.checks!.gate[0].urn);
        expect(find("bad-check-host").inputs.host).toBe("ssh://ci@gpu1");
        const env = find("bad-torch-check-torch-cuda-verdict").inputs.environment as Record<string, string>;
        expect(env.LAYERSTACK_EXIT_CODE).toBe("3");
        expect(env.LAYERSTACK_CHECK_LOGS).toBe("torch 2.10.0+cu130\nAssertionError: no CUDA device");
        const r = verdict(env);
        expect(r.code).toBe(3);
        expect(r.stdout).toBe("");
        expect(r.stderr).toContain(`check torch-cuda of layer bad-torch failed (exit 3) on the GPU runner in ghcr.io/owner/megapak/bad-torch@${DIGEST}; its last lines:\ntorch 2.10.0+cu130\nAssertionError: no CUDA device\n`);
        expect(r.stderr).toContain("Its descendants are not pushed and no moving tag is promoted.");
        expect(r.stderr).toContain(`to run it again unchanged: pulumi up --replace '${env.LAYERSTACK_CONTAINER_URN}'`);
    });
});

describe("the verdict script and the log tail", () => {
    const base = { LAYERSTACK_LAYER: "layer04-pytorch", LAYERSTACK_CHECK_NAME: "cuda", LAYERSTACK_IMAGE_REF: "ghcr.io/o/m/layer04-pytorch@sha256:00", LAYERSTACK_CONTAINER_URN: "urn:x" };
    test("exit 0 passes and prints the log; any other code fails with it; no code fails", () => {
        expect(verdict({ ...base, LAYERSTACK_EXIT_CODE: "0", LAYERSTACK_CHECK_LOGS: "True" })).toEqual({ code: 0, stdout: "True\n", stderr: "" });
        const failed = verdict({ ...base, LAYERSTACK_EXIT_CODE: "1", LAYERSTACK_CHECK_LOGS: "False" });
        expect(failed.code).toBe(1);
        expect(failed.stderr).toContain("check cuda of layer layer04-pytorch failed (exit 1) on the GPU runner");
        const none = verdict({ ...base, LAYERSTACK_EXIT_CODE: "", LAYERSTACK_CHECK_LOGS: "" });
        expect(none.code).toBe(1);
        expect(none.stderr).toContain("check cuda of layer layer04-pytorch did not finish (no exit code: )");
    });

    test("checkLogTail keeps the last lines, drops stream headers and control bytes", () => {
        expect(commands.checkLogTail(undefined)).toBe("");
        expect(commands.checkLogTail("a\nb\nc\n", 2)).toBe("b\nc");
        expect(commands.checkLogTail("\u001b[31mred\u001b[0m\ttab\r\n")).toBe("[31mred[0m\ttab");
        expect(commands.checkLogTail("\u0001\u0000\u0000\u0000\u0000\u0000\u0000\u0003ok\n")).toBe("ok");
        const long = Array.from({ length: 100 }, (_, i) => `line ${i}`).join("\n");
        expect(commands.checkLogTail(long).split("\n")).toEqual(Array.from({ length: 40 }, (_, i) => `line ${i + 60}`));
        expect(commands.checkLogTail("x".repeat(20000)).length).toBe(8192);
        expect(commands.checkLogTail("nul\u0000byte")).toBe("nulbyte");
    });
});

describe("the check environment (CHECK_ENV_JQ), one program for the local and runner checks", () => {
    test("the image's Env first, in its order; the driver's directories after its own LD_LIBRARY_PATH; PATH only where it has none", () => {
        expect(JSON.parse(checkEnvOf({ config: { Env: ["LD_LIBRARY_PATH=/nix/store/x/lib", "PATH=/nix/store/y/bin", "A=b=c"] } }))).toEqual([
            "LD_LIBRARY_PATH=/nix/store/x/lib:/run/opengl-driver/lib:/usr/lib/x86_64-linux-gnu:/usr/lib64:/usr/local/nvidia/lib64",
            "PATH=/nix/store/y/bin", "A=b=c", "NVIDIA_VISIBLE_DEVICES=all", "NVIDIA_DRIVER_CAPABILITIES=compute,utility",
        ]);
        // An image with no Env gets exactly what a runner with no registry to read gives (RUNNER_CHECK_ENV).
        expect(JSON.parse(checkEnvOf({ config: {} }))).toEqual([...commands.RUNNER_CHECK_ENV]);
        expect(JSON.parse(checkEnvOf({}))).toEqual([...commands.RUNNER_CHECK_ENV]);
    });

    test("an argv check's container runs its argv as it is, no shell", async () => {
        const p = pipeline("argv", "unix:///var/run/docker.sock", { "argv-base": [{ name: "env", argv: ["env", "-0"] } as any] });
        await valueOf(p.layers);
        await valueOf(p.layerComponents.get("argv-base")!.checks!.gate[0].urn);
        const c = recorded.filter((r) => r.type === "docker:index/container:Container" && r.name === "argv-base-check-env");
        expect(c).toHaveLength(1);
        expect(c[0].inputs).toMatchObject({ entrypoints: ["env"], command: ["-0"] });
    });
});
