import * as pulumi from "@pulumi/pulumi";
import { spawnSync } from "child_process";
import * as path from "path";
import { isSecret, valueOf, Recorded } from "../test/support/mocks";

const REG_TOKEN = "AREGISTRATION-T0KEN-sentinel";
const GH_TOKEN = "ghp_github-sentinel";
const SSH_KEY = "-----BEGIN OPENSSH PRIVATE KEY-----sentinel";
const recorded: Recorded[] = [];
const invokes: { token: string; inputs: Record<string, unknown> }[] = [];
let visibility = "private";
pulumi.runtime.setMocks({
    newResource(args) {
        recorded.push({ type: args.type, name: args.name, inputs: args.inputs });
        const state = { ...args.inputs };
        if (args.name.endsWith("-preflight")) state.stdout = "driver=580.82.07\ngpu=NVIDIA H100 80GB HBM3\nnix=nix (Nix) 2.24.9\nfree_gb=812\n";
        return { id: `${args.name}-id`, state };
    },
    call(args) {
        invokes.push({ token: args.token, inputs: args.inputs });
        if (args.token === "github:index/getRepository:getRepository") return { fullName: args.inputs.fullName, visibility, private: visibility !== "public" };
        if (args.token === "github:index/getActionsRegistrationToken:getActionsRegistrationToken") return { repository: args.inputs.repository, token: REG_TOKEN, expiresAt: 1, id: "x" };
        throw new Error(`unexpected invoke ${args.token}`);
    },
}, "layerstack", "cu130", false);

import type * as runnerModule from "./gpuRunner";
import * as commands from "../lib/commands";
import { findVariant } from "../lib/variants";
let mod: typeof runnerModule;
let github: typeof import("@pulumi/github");
beforeAll(async () => { mod = await import("./gpuRunner"); github = await import("@pulumi/github"); });
const find = (name: string) => recorded.find((r) => r.name === name)!;

function runner(name: string, extra: Partial<runnerModule.GpuRunnerArgs> = {}) {
    return new mod.GpuRunner(name, {
        connection: { host: "gpu1.example.com", user: "ci", port: 2222, privateKey: pulumi.secret(SSH_KEY) },
        owner: "owner", repository: "megapak",
        provider: new github.Provider(`${name}-gh`, { owner: "owner", token: pulumi.secret(GH_TOKEN) }),
        variant: findVariant("cu130")!, labels: ["h100"], githubToken: pulumi.secret(GH_TOKEN),
        ...extra,
    });
}

async function settle(r: runnerModule.GpuRunner) {
    for (const c of [r.preflight, r.install, r.registration, r.deregistration]) await valueOf(c.urn);
}

describe("GpuRunner", () => {
    test("children, labels and the preflight's facts", async () => {
        const r = runner("gpu");
        await settle(r);
        expect(r.runnerName).toBe("layerstack-cu130-gpu1");
        expect(r.labels).toEqual(["self-hosted", "linux", "x64", "gpu", "cuda-13.0", "h100"]);
        expect(recorded.filter((x) => x.name.startsWith("gpu-") && x.type.startsWith("command:")).map((x) => `${x.type} ${x.name}`).sort()).toEqual([
            "command:local:Command gpu-deregister",
            "command:remote:Command gpu-install",
            "command:remote:Command gpu-preflight",
            "command:remote:Command gpu-register",
        ]);
        expect(await valueOf(r.driverVersion)).toBe("580.82.07");
        expect(await valueOf(r.gpuName)).toBe("NVIDIA H100 80GB HBM3");

        const pre = find("gpu-preflight").inputs;
        expect(pre.create).toBe(commands.PREFLIGHT_SCRIPT);
        expect(pre.stdin).toBe("RUNNER_DIR=~/actions-runner-layerstack-cu130-gpu1\nMIN_DRIVER=580.65.06\nCUDA_VERSION=13.0\nMIN_FREE_GB=100\n");
        expect(find("gpu-install").inputs.stdin).toBe(`RUNNER_DIR=~/actions-runner-layerstack-cu130-gpu1\nRUNNER_VERSION=${commands.RUNNER_VERSION}\nRUNNER_SHA256=${commands.RUNNER_SHA256}\n`);
        expect(invokes).toContainEqual({ token: "github:index/getActionsRegistrationToken:getActionsRegistrationToken", inputs: { repository: "megapak" } });
        expect(invokes).toContainEqual({ token: "github:index/getRepository:getRepository", inputs: { fullName: "owner/megapak" } });
    });

    test("the registration token is secret, on stdin only, never in text, argv, triggers or logs", async () => {
        const r = runner("tok");
        await settle(r);
        const reg = find("tok-register").inputs;
        expect(reg.create).toBe(commands.REGISTER_SCRIPT);
        expect(reg.update).toBe(commands.REGISTER_SCRIPT);
        expect(reg.delete).toBe(commands.UNREGISTER_HOST_SCRIPT);
        expect(reg.logging).toBe("none");
        expect(await isSecret(r.registration.stdin as pulumi.Output<unknown>)).toBe(true);
        expect(await valueOf(r.registration.stdin as pulumi.Output<string>)).toBe(
            "RUNNER_DIR=~/actions-runner-layerstack-cu130-gpu1\n" +
            "RUNNER_URL=https://github.com/owner/megapak\nRUNNER_NAME=layerstack-cu130-gpu1\nRUNNER_LABELS=gpu,cuda-13.0,h100\n" +
            `RUNNER_EPHEMERAL=false\nRUNNER_VERSION=${commands.RUNNER_VERSION}\nRUNNER_TOKEN=${REG_TOKEN}\n`);
        // Re-registration follows these, never the token.
        expect(reg.triggers).toEqual(["~/actions-runner-layerstack-cu130-gpu1", "layerstack-cu130-gpu1", "self-hosted", "linux", "x64", "gpu", "cuda-13.0", "h100", "false", commands.RUNNER_VERSION]);
        for (const script of [commands.PREFLIGHT_SCRIPT, commands.INSTALL_SCRIPT, commands.REGISTER_SCRIPT, commands.UNREGISTER_HOST_SCRIPT, commands.DEREGISTER_SCRIPT]) {
            expect(script).not.toContain(REG_TOKEN);
            expect(script).not.toMatch(/--token|--pat/);
        }
        for (const x of recorded.filter((y) => y.name.startsWith("tok-") && y.name !== "tok-register")) {
            expect(JSON.stringify(x.inputs)).not.toContain(REG_TOKEN);
        }
        // Every remote command's connection (with the SSH key) reaches the provider as a secret.
        for (const n of ["tok-preflight", "tok-install", "tok-register"]) {
            const c = find(n).inputs.connection as Record<string, unknown>;
            expect(c["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
            expect(c.value).toMatchObject({ host: "gpu1.example.com", port: 2222, user: "ci", privateKey: SSH_KEY });
        }
        expect(await isSecret(r.preflight.stdout)).toBe(false);
        // The SSH key and GitHub token are secret inputs.
        expect(await isSecret(r.registration.connection as pulumi.Output<unknown>)).toBe(true);
        expect(await isSecret(r.deregistration.environment as pulumi.Output<unknown>)).toBe(true);
        const env = await valueOf(r.deregistration.environment as pulumi.Output<Record<string, string>>);
        expect(env).toEqual({
            LAYERSTACK_GITHUB_API: "https://api.github.com", LAYERSTACK_GITHUB_OWNER: "owner", LAYERSTACK_GITHUB_REPOSITORY: "megapak",
            LAYERSTACK_RUNNER_NAME: "layerstack-cu130-gpu1", LAYERSTACK_GITHUB_TOKEN: GH_TOKEN,
        });
        expect(find("tok-deregister").inputs.delete).toBe(commands.DEREGISTER_SCRIPT);
        expect(find("tok-deregister").inputs.triggers).toEqual(["owner/megapak", "layerstack-cu130-gpu1"]);
    });

    test("ephemeral runners register with --ephemeral", async () => {
        const r = runner("eph", { ephemeral: true, runnerName: "megapak-h100" });
        await settle(r);
        expect(await valueOf(r.registration.stdin as pulumi.Output<string>)).toContain("RUNNER_NAME=megapak-h100\nRUNNER_LABELS=gpu,cuda-13.0,h100\nRUNNER_EPHEMERAL=true\n");
        expect(commands.REGISTER_SCRIPT).toContain('[ "$RUNNER_EPHEMERAL" != true ] || set -- "$@" --ephemeral');
    });

    test("a public repository is refused unless allowPublicRepository, citing GitHub's hardening guide", async () => {
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "public", false)).toThrow(
            'layerstack:allowPublicRepository: owner/megapak is public, and GitHub\'s "Security hardening for GitHub Actions" advises that self-hosted runners should almost never be used for public repositories');
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "public", false)).toThrow("Set layerstack:allowPublicRepository to true to register anyway.");
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "public", true)).not.toThrow();
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "private", false)).not.toThrow();
        expect(() => mod.checkRepositoryVisibility("owner/megapak", "internal", false)).not.toThrow();
    });

    test("the component asks GitHub for the visibility and passes allowPublicRepository through", async () => {
        visibility = "public";
        try {
            const r = runner("pub", { allowPublicRepository: true });
            await settle(r);
            expect(await valueOf(r.registration.stdin as pulumi.Output<string>)).toContain("RUNNER_NAME=layerstack-cu130-gpu1\n");
        } finally {
            visibility = "private";
        }
    });

    test("the component refuses a public repository before the preflight or anything else reaches the host", () => {
        // Under the mocks a failed registration is an unhandled rejection, which jest would
        // pin on whatever test runs; so this scenario runs in its own Node process, which
        // reports the rejections and the resources the mocks saw.
        const probe = `
            const pulumi = require("@pulumi/pulumi");
            const seen = [], errors = [];
            process.on("unhandledRejection", (e) => errors.push(String(e && e.message || e)));
            pulumi.runtime.setMocks({
                newResource(a) { seen.push(a.name); return { id: a.name + "-id", state: a.inputs }; },
                call(a) {
                    if (a.token === "github:index/getRepository:getRepository") return { fullName: a.inputs.fullName, visibility: "public", private: false };
                    if (a.token === "github:index/getActionsRegistrationToken:getActionsRegistrationToken") return { repository: a.inputs.repository, token: "T", expiresAt: 1, id: "x" };
                    throw new Error("unexpected invoke " + a.token);
                },
            }, "layerstack", "cu130", false);
            const github = require("@pulumi/github");
            const { GpuRunner } = require("./components/gpuRunner");
            const { findVariant } = require("./lib/variants");
            new GpuRunner("refused", {
                connection: { host: "gpu1.example.com", user: "ci" }, owner: "owner", repository: "megapak",
                provider: new github.Provider("refused-gh", { owner: "owner", token: pulumi.secret("t") }),
                variant: findVariant("cu130"), githubToken: pulumi.secret("t"),
            });
            setTimeout(() => { console.log(JSON.stringify({ seen, errors })); process.exit(0); }, 3000);`;
        const r = spawnSync(process.execPath, ["-r", "ts-node/register/transpile-only", "-e", probe], { cwd: path.join(__dirname, ".."), encoding: "utf8" });
        // (Pulumi's own exit handler sets a non-zero status for the promises the refusal left pending.)
        const { seen, errors } = JSON.parse(r.stdout.trim().split("\n").pop()!) as { seen: string[]; errors: string[] };
        expect(errors.length).toBeGreaterThan(0);
        for (const m of errors) {
            expect(m).toContain("layerstack:allowPublicRepository: owner/megapak is public");
            expect(m).toContain("security-hardening-for-github-actions#hardening-for-self-hosted-runners");
        }
        // The GitHub provider was created (and the local deregistration, which only acts at destroy); none of the host's steps was.
        expect(seen).toEqual(expect.arrayContaining(["refused-gh", "refused-deregister"]));
        expect(seen.filter((n) => ["refused-preflight", "refused-install", "refused-register"].includes(n))).toEqual([]);
    });

    test("runnerStdin refuses multi-line values and unknown names", () => {
        expect(() => commands.runnerStdin({ RUNNER_NAME: "a\nRUNNER_TOKEN=x" })).toThrow("runner parameter RUNNER_NAME must be one line");
        expect(() => commands.runnerStdin({ NOPE: "x" } as never)).toThrow("unknown runner parameter NOPE");
    });
});
