import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "child_process";
import * as path from "path";
import { isSecret, valueOf, Recorded } from "../test/support/mocks";
import { GithubStandin, sha16 } from "../test/support/githubStandin";

const GH_TOKEN = "ghp_github-sentinel";
const JIT_TOKEN = "github_pat_jit-sentinel";
const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----sentinel";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey";
const recorded: Recorded[] = [];
pulumi.runtime.setMocks({
    newResource(args) {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state = { ...args.inputs };
        if (args.name.endsWith("-preflight")) state.stdout = "driver=580.82.07\ngpu=NVIDIA H100 80GB HBM3\nnix=nix (Nix) 2.24.9\nfree_gb=812\n";
        return { id: `${args.name}-id`, state };
    },
    call(args) {
        // No invoke at all: no registration token is asked for while the program runs.
        throw new Error(`unexpected invoke ${args.token}`);
    },
}, "layerstack", "cu130", false);

// GitHub's REST API, for the repository's visibility (the only call the program makes itself).
const api = new GithubStandin(5702, { tokens: [GH_TOKEN], repo: "owner/megapak" });
beforeAll(() => api.start());
afterAll(() => api.dispose());

import type * as runnerModule from "./gpuRunner";
import * as commands from "../lib/commands";
import { findVariant } from "../lib/variants";
let mod: typeof runnerModule;
beforeAll(async () => { mod = await import("./gpuRunner"); });
const find = (name: string) => recorded.find((r) => r.name === name)!;
/** How a secret input reaches the provider: Pulumi's secret envelope around the value (a map with a secret value is secret as a whole). */
const secretInput = (value: unknown) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });

function runner(name: string, extra: Partial<runnerModule.GpuRunnerArgs> = {}, connection: Partial<runnerModule.GpuRunnerArgs["connection"]> = {}) {
    return new mod.GpuRunner(name, {
        connection: { host: "gpu1.example.com", user: "ci", port: 2222, hostKey: HOST_KEY, privateKey: pulumi.secret(SSH_KEY), ...connection },
        owner: "owner", repository: "megapak", githubToken: pulumi.secret(GH_TOKEN), githubApiUrl: api.url,
        variant: findVariant("cu130")!, labels: ["h100"],
        ...extra,
    });
}

async function settle(r: runnerModule.GpuRunner) {
    for (const c of [r.preflight, r.install, r.registration, r.deregistration]) await valueOf(c.urn);
}

const sshEnv = {
    LAYERSTACK_SSH_HOST: "gpu1.example.com", LAYERSTACK_SSH_PORT: "2222", LAYERSTACK_SSH_USER: "ci", LAYERSTACK_SSH_HOST_KEY: HOST_KEY,
};

describe("GpuRunner", () => {
    test("four local commands over OpenSSH, the labels, and the preflight's facts", async () => {
        const r = runner("gpu");
        await settle(r);
        expect(r.runnerName).toBe("layerstack-cu130-gpu1");
        expect(r.labels).toEqual(["self-hosted", "linux", "x64", "gpu", "cuda-13.0", "h100"]);
        expect(recorded.filter((x) => x.name.startsWith("gpu-")).map((x) => `${x.type} ${x.name}`).sort()).toEqual([
            "command:local:Command gpu-deregister",
            "command:local:Command gpu-install",
            "command:local:Command gpu-preflight",
            "command:local:Command gpu-register",
        ]);
        expect(await valueOf(r.driverVersion)).toBe("580.82.07");
        expect(await valueOf(r.gpuName)).toBe("NVIDIA H100 80GB HBM3");

        const pre = find("gpu-preflight").inputs;
        expect(pre.create).toBe(commands.PREFLIGHT_SCRIPT);
        expect(pre.stdin).toBe("RUNNER_DIR=~/actions-runner-layerstack-cu130-gpu1\nMIN_DRIVER=580.65.06\nCUDA_VERSION=13.0\nMIN_FREE_GB=100\n");
        expect(pre.environment).toEqual(secretInput({ ...sshEnv, LAYERSTACK_SSH_KEY: SSH_KEY }));
        expect(pre.logging).toBe("stdoutAndStderr");
        const install = find("gpu-install").inputs;
        expect(install.create).toBe(commands.INSTALL_SCRIPT);
        expect(install.stdin).toBe(`RUNNER_DIR=~/actions-runner-layerstack-cu130-gpu1\nRUNNER_VERSION=${commands.RUNNER_VERSION}\nRUNNER_SHA256=${commands.RUNNER_SHA256}\n` +
            "RUNNER_RELEASE_URL=https://github.com/actions/runner/releases/download\n");
        expect(install.environment).toEqual(pre.environment);
        // The program asked GitHub for the repository (read only) with the token, and minted nothing.
        expect(api.apiRequests().map((q) => `${q.method} ${q.path} ${q.auth}`)).toContain(`GET /repos/owner/megapak ${sha16(GH_TOKEN)}`);
        expect(api.apiRequests().filter((q) => q.method !== "GET")).toEqual([]);
    });

    test("the registration's inputs hold no token: stable from one up to the next; the key and GitHub token are secret environment", async () => {
        const r = runner("tok");
        await settle(r);
        const reg = find("tok-register").inputs;
        expect(reg.create).toBe(commands.REGISTER_SCRIPT);
        expect(reg.update).toBe(commands.REGISTER_SCRIPT);
        expect(reg.delete).toBe(commands.UNREGISTER_SCRIPT);
        expect(reg.stdin).toBe(
            "RUNNER_DIR=~/actions-runner-layerstack-cu130-gpu1\n" +
            `RUNNER_URL=${api.url}/owner/megapak\nRUNNER_NAME=layerstack-cu130-gpu1\nRUNNER_LABELS=gpu,cuda-13.0,h100\n` +
            `RUNNER_EPHEMERAL=false\nRUNNER_VERSION=${commands.RUNNER_VERSION}\nGITHUB_API=${api.url}\nGITHUB_OWNER=owner\nGITHUB_REPOSITORY=megapak\n`);
        expect(await isSecret(r.registration.stdin as pulumi.Output<unknown>)).toBe(false);
        expect(reg.environment).toEqual(secretInput({
            ...sshEnv, LAYERSTACK_SSH_KEY: SSH_KEY,
            LAYERSTACK_GITHUB_API: api.url, LAYERSTACK_GITHUB_OWNER: "owner", LAYERSTACK_GITHUB_REPOSITORY: "megapak", LAYERSTACK_GITHUB_TOKEN: GH_TOKEN,
        }));
        expect(await isSecret(r.registration.environment as pulumi.Output<unknown>)).toBe(true);
        // A new directory or name is a new runner; labels, mode and version are an update.
        expect(reg.triggers).toEqual(["~/actions-runner-layerstack-cu130-gpu1", "layerstack-cu130-gpu1"]);
        for (const script of [commands.PREFLIGHT_SCRIPT, commands.INSTALL_SCRIPT, commands.REGISTER_SCRIPT, commands.UNREGISTER_SCRIPT, commands.DEREGISTER_SCRIPT]) {
            expect(script).not.toContain(GH_TOKEN);
            expect(script).not.toMatch(/--token|--pat|--jitconfig/);
        }
        for (const x of recorded.filter((y) => y.name.startsWith("tok-"))) {
            const text = JSON.stringify({ ...x.inputs, environment: undefined });
            expect(text).not.toContain(GH_TOKEN);
            expect(text).not.toContain(SSH_KEY);
        }
        expect(await isSecret(r.preflight.stdout)).toBe(false);
        expect(await isSecret(r.deregistration.environment as pulumi.Output<unknown>)).toBe(true);
        const dereg = find("tok-deregister").inputs;
        expect(dereg.environment).toEqual(secretInput({
            LAYERSTACK_GITHUB_API: api.url, LAYERSTACK_GITHUB_OWNER: "owner", LAYERSTACK_GITHUB_REPOSITORY: "megapak",
            LAYERSTACK_RUNNER_NAME: "layerstack-cu130-gpu1", LAYERSTACK_GITHUB_TOKEN: GH_TOKEN,
        }));
        expect(dereg.delete).toBe(commands.DEREGISTER_SCRIPT);
        expect(dereg.update).toBe("true");
        expect(dereg.triggers).toEqual(["owner/megapak", "layerstack-cu130-gpu1"]);
    });

    test("the SSH agent only when said, and then no key", async () => {
        const r = runner("agent", {}, { privateKey: undefined, agent: true });
        await settle(r);
        // No secret in it: the preflight's environment is plain.
        expect(find("agent-preflight").inputs.environment).toEqual({ ...sshEnv, LAYERSTACK_SSH_AGENT: "true" });
        const env = (find("agent-register").inputs.environment as { value: Record<string, string> }).value;
        expect(env).toMatchObject({ ...sshEnv, LAYERSTACK_SSH_AGENT: "true" });
        expect(env).not.toHaveProperty("LAYERSTACK_SSH_KEY");
    });

    test("ephemeral runners: the JIT token is secret environment of the registration only", async () => {
        const r = runner("eph", { ephemeral: true, jitToken: pulumi.secret(JIT_TOKEN), runnerName: "megapak-h100", minFreeDiskGb: 20, requireDockerGpu: true });
        await settle(r);
        expect(find("eph-register").inputs.stdin).toContain("RUNNER_NAME=megapak-h100\nRUNNER_LABELS=gpu,cuda-13.0,h100\nRUNNER_EPHEMERAL=true\n");
        expect(find("eph-register").inputs.environment).toMatchObject(secretInput(expect.objectContaining({ LAYERSTACK_RUNNER_JIT_TOKEN: JIT_TOKEN })));
        expect(find("eph-preflight").inputs.stdin).toBe("RUNNER_DIR=~/actions-runner-megapak-h100\nMIN_DRIVER=580.65.06\nCUDA_VERSION=13.0\nMIN_FREE_GB=20\nCHECK_DOCKER_GPU=true\n");
        for (const n of ["eph-preflight", "eph-install", "eph-deregister"]) expect(JSON.stringify(find(n).inputs)).not.toContain(JIT_TOKEN);
    });

    test("a mirrored release: its URL and sha256 reach the install", async () => {
        const r = runner("mirror", { release: { url: "https://mirror.example/runner", sha256: "ab".repeat(32) } });
        await settle(r);
        expect(find("mirror-install").inputs.stdin).toBe(`RUNNER_DIR=~/actions-runner-layerstack-cu130-gpu1\nRUNNER_VERSION=${commands.RUNNER_VERSION}\nRUNNER_SHA256=${"ab".repeat(32)}\nRUNNER_RELEASE_URL=https://mirror.example/runner\n`);
    });

    test("its own rules, before anything is declared", () => {
        expect(() => runner("v1", {}, { privateKey: undefined })).toThrow("GpuRunner v1: give connection.privateKey or set connection.agent, exactly one");
        expect(() => runner("v2", {}, { agent: true })).toThrow("GpuRunner v2: give connection.privateKey or set connection.agent, exactly one");
        expect(() => runner("v3", {}, { hostKey: "not a key" })).toThrow('GpuRunner v3: connection.hostKey must be "<type> <base64>", as ssh-keyscan prints it');
        expect(() => runner("v4", { ephemeral: true })).toThrow("GpuRunner v4: ephemeral runners need jitToken");
        expect(() => runner("v5", { jitToken: pulumi.secret("t") })).toThrow("GpuRunner v5: jitToken is only used by ephemeral runners");
        expect(() => runner("v6", { runnerName: "a b" })).toThrow('GpuRunner v6: runner name "a b" must be letters, digits, \'.\', \'_\' or \'-\'');
        expect(recorded.filter((x) => /^v\d-/.test(x.name))).toEqual([]);
    });

    test("a public repository is refused unless allowPublicRepository, citing GitHub's hardening guide", async () => {
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "public", false)).toThrow(
            'layerstack:allowPublicRepository: owner/megapak is public, and GitHub\'s "Security hardening for GitHub Actions" advises that self-hosted runners should almost never be used for public repositories');
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "public", false)).toThrow("Set layerstack:allowPublicRepository to true to register anyway.");
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "public", true)).not.toThrow();
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "private", false)).not.toThrow();
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "internal", false)).not.toThrow();
        api.setVisibility("public");
        try {
            const r = runner("pub", { allowPublicRepository: true });
            await settle(r);
            expect(find("pub-preflight").inputs.stdin).toContain("MIN_DRIVER=580.65.06\n");
        } finally {
            api.setVisibility("private");
        }
    });

    test("the component refuses a public repository before the preflight or anything else reaches the host", () => {
        // Under the mocks a failed registration is an unhandled rejection, which jest would
        // pin on whatever test runs; so this scenario runs in its own Node process, which
        // reports the rejections and the resources the mocks saw.
        api.setVisibility("public");
        const probe = `
            const pulumi = require("@pulumi/pulumi");
            const seen = [], errors = [];
            process.on("unhandledRejection", (e) => errors.push(String(e && e.message || e)));
            pulumi.runtime.setMocks({
                newResource(a) { seen.push(a.name); return { id: a.name + "-id", state: a.inputs }; },
                call(a) { throw new Error("unexpected invoke " + a.token); },
            }, "layerstack", "cu130", false);
            const { GpuRunner } = require("./components/gpuRunner");
            const { findVariant } = require("./lib/variants");
            new GpuRunner("refused", {
                connection: { host: "gpu1.example.com", user: "ci", hostKey: ${JSON.stringify(HOST_KEY)}, agent: true }, owner: "owner", repository: "megapak",
                githubToken: pulumi.secret(${JSON.stringify(GH_TOKEN)}), githubApiUrl: ${JSON.stringify(api.url)}, variant: findVariant("cu130"),
            });
            setTimeout(() => { console.log(JSON.stringify({ seen, errors })); process.exit(0); }, 3000);`;
        try {
            const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", probe], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
            // (Pulumi's own exit handler sets a non-zero status for the promises the refusal left pending.)
            const { seen, errors } = JSON.parse(r.stdout.trim().split("\n").pop()!) as { seen: string[]; errors: string[] };
            expect(errors.length).toBeGreaterThan(0);
            for (const m of errors) {
                expect(m).toContain("layerstack:allowPublicRepository: owner/megapak is public");
                expect(m).toContain("security-hardening-for-github-actions#hardening-for-self-hosted-runners");
            }
            // The local deregistration (which only acts at destroy) was declared; none of the host's steps was.
            expect(seen).toContain("refused-deregister");
            expect(seen.filter((n) => ["refused-preflight", "refused-install", "refused-register"].includes(n))).toEqual([]);
        } finally {
            api.setVisibility("private");
        }
    });

    test("a token GitHub refuses stops the program with the status, never the token", async () => {
        const { repositoryVisibility } = await import("../lib/github");
        await expect(repositoryVisibility(api.url, "owner", "megapak", "ghp_wrong-sentinel")).rejects.toThrow(
            `layerstack:githubToken: GET ${api.url}/repos/owner/megapak answered 401 Unauthorized: the token must be able to read owner/megapak`);
        await expect(repositoryVisibility("http://127.0.0.1:1", "owner", "megapak", GH_TOKEN)).rejects.toThrow("layerstack:githubApiUrl: GET http://127.0.0.1:1/repos/owner/megapak failed: fetch failed");
    });
});
