// A layer built on Nix remote builders: the build command's script and inputs (Pulumi mocks),
// with the SSH key kept secret. The rest of the layer is as without builders.
import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecret, valueOf, fakeManifest, Recorded } from "../test/support/mocks";

const DIGEST = "sha256:" + "cd".repeat(32);
const recorded: Recorded[] = installMocks({
    stdout: (r) => (r.name.endsWith("-push") ? `${DIGEST}\n${fakeManifest([100, 200])}` : undefined),
});

import type * as layerModule from "./nixImageLayer";
import type * as pipelineModule from "./imagePipeline";
import * as commands from "../lib/commands";
import { machinesText } from "../lib/builders";
let mod: typeof layerModule;
let pipelineMod: typeof pipelineModule;
beforeAll(async () => {
    mod = await import("./nixImageLayer");
    pipelineMod = await import("./imagePipeline");
});

const DRV = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-layer02-python-tools.drv";
const HK = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const machines = [{ uri: "ssh-ng://nix@b1.example.com", host: "b1.example.com", systems: ["x86_64-linux"], maxJobs: 8, speedFactor: 1, supportedFeatures: ["big-parallel"], mandatoryFeatures: [], hostKey: HK }];
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nnot-a-real-key\n-----END OPENSSH PRIVATE KEY-----\n";

test("the build hands its derivations to the builders: the machines in its environment, the key a secret, in no text", async () => {
    const l = new mod.NixImageLayer("layer-remote", {
        attr: "layer02-python-tools", drvPath: DRV, outPath: "/nix/store/x-out", registry: "ghcr.io", repository: "owner/megapak", variant: "cu130",
        nixConfig: "max-jobs = 0", builders: { machines, useSubstitutes: true, sshKey: pulumi.secret(KEY) },
    });
    await valueOf(l.imageRef);
    const build = recorded.find((r) => r.name === "layer-remote-build")!;
    // The command's text is the same one-line stub as without builders: nothing of them is in it.
    expect(build.inputs.create).toBe(commands.scriptStub("layer-remote-build"));
    expect(build.inputs.triggers).toEqual([DRV]);
    expect(await isSecret(l.build.environment as pulumi.Output<unknown>)).toBe(true);
    expect(await valueOf(l.build.environment as pulumi.Output<Record<string, string>>)).toEqual({
        LAYERSTACK_SCRIPT: commands.withBuilders(commands.withNixConfig(commands.BUILD_SCRIPT)), LAYERSTACK_TIMEOUT: String(6 * 3600),
        LAYERSTACK_DRV_PATH: DRV, LAYERSTACK_NIX_CONFIG: "max-jobs = 0",
        LAYERSTACK_NIX_BUILDERS: machinesText(machines), LAYERSTACK_NIX_BUILDERS_SSH_KEY: KEY, LAYERSTACK_NIX_BUILDERS_USE_SUBSTITUTES: "true",
    });
    // The key is in the (secret) environment only: no command text holds it.
    expect(JSON.stringify(recorded.map((r) => r.inputs.create))).not.toContain("not-a-real-key");
    // The push (a realise of what the build made, then skopeo) is the same as without builders.
    const push = await valueOf(l.push.environment as pulumi.Output<Record<string, string>>);
    expect(push.LAYERSTACK_SCRIPT).toBe(commands.withNixConfig(commands.PUSH_SCRIPT));
    expect(Object.keys(push).filter((k) => k.startsWith("LAYERSTACK_NIX_BUILDERS"))).toEqual([]);
    expect(await isSecret(l.digest)).toBe(false);
});

test("without use-substitutes, the build leaves Nix's own setting", async () => {
    const l = new mod.NixImageLayer("layer-nosubst", {
        attr: "x", drvPath: DRV, outPath: "/nix/store/x-out", registry: "ghcr.io", repository: "owner/megapak", variant: "cu130",
        builders: { machines, sshKey: pulumi.secret(KEY) },
    });
    const env = await valueOf(l.build.environment as pulumi.Output<Record<string, string>>);
    expect(Object.keys(env).sort()).toEqual(["LAYERSTACK_DRV_PATH", "LAYERSTACK_NIX_BUILDERS", "LAYERSTACK_NIX_BUILDERS_SSH_KEY", "LAYERSTACK_SCRIPT", "LAYERSTACK_TIMEOUT"]);
});

test("a pipeline gives every layer's build the same builders", async () => {
    const p = new pipelineMod.ImagePipeline("pipe", {
        flake: "path:/nowhere", registry: "ghcr.io", repository: "owner/megapak", variant: "cu130",
        layers: [{ id: "p-a", attr: "a" }, { id: "p-b", attr: "b", parent: "p-a" }],
        evaluated: new Map([["a", { drvPath: DRV, outPath: "/nix/store/a" }], ["b", { drvPath: DRV.replace("layer02", "layer03"), outPath: "/nix/store/b" }]]),
        builders: { machines, sshKey: pulumi.secret(KEY) },
        // The drvPaths are made up: no forecast (Nix would not know them).
        forecast: false,
    });
    await valueOf(p.layers);
    for (const id of ["p-a", "p-b"]) {
        const env = await valueOf(p.layerComponents.get(id)!.build.environment as pulumi.Output<Record<string, string>>);
        expect(env.LAYERSTACK_NIX_BUILDERS).toBe(machinesText(machines));
        expect(env.LAYERSTACK_NIX_BUILDERS_SSH_KEY).toBe(KEY);
    }
});
