import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecret, valueOf, fakeManifest, Recorded } from "../test/support/mocks";

const DIGEST = "sha256:" + "ab".repeat(32);
const recorded: Recorded[] = installMocks({
    stdout: (r) => (r.name.endsWith("-push") ? `${DIGEST}\n${fakeManifest([100, 200, 4242])}` : undefined),
});

// Imported after setMocks, as Pulumi's testing guide requires.
import type * as layerModule from "./nixImageLayer";
import * as commands from "../lib/commands";
let mod: typeof layerModule;
beforeAll(async () => { mod = await import("./nixImageLayer"); });

const DRV = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-layer02-python-tools.drv";
const PARENT_DRV = "/nix/store/zyxwvsrqpnmlkjihgfdcba9876543210-layer01-base-cuda.drv";

function layer(name: string, extra: Partial<layerModule.NixImageLayerArgs> = {}) {
    return new mod.NixImageLayer(name, {
        attr: name, drvPath: DRV, outPath: "/nix/store/x-out", registry: "ghcr.io", repository: "owner/megapak", variant: "cu130", ...extra,
    });
}

describe("NixImageLayer", () => {
    test("children are named after the layer, the build is triggered by the drvPath", async () => {
        const l = layer("layer02-python-tools");
        await valueOf(l.imageRef);
        const build = recorded.find((r) => r.name === "layer02-python-tools-build")!;
        const push = recorded.find((r) => r.name === "layer02-python-tools-push")!;
        expect(build.type).toBe("command:local:Command");
        expect(push.type).toBe("command:local:Command");
        expect(build.inputs.triggers).toEqual([DRV]);
        // The command text is a one-line stub that runs the script it carries in the environment
        // under a time limit of its own (the official provider's timeout kills only the direct
        // child), and the script runs Nix with the stack's settings.
        expect(build.inputs.create).toBe(commands.scriptStub("layer02-python-tools-build"));
        expect(build.inputs.create).toBe('setpriv --pdeathsig TERM timeout --kill-after=30 "$LAYERSTACK_TIMEOUT" sh -c "$LAYERSTACK_SCRIPT" layer02-python-tools-build; s=$?; '
            + '[ $s -ne 124 ] || echo "layer02-python-tools-build: timed out after ${LAYERSTACK_TIMEOUT}s (its time limit); every process it started was stopped" >&2; exit $s');
        expect(build.inputs.environment).toEqual({
            LAYERSTACK_SCRIPT: commands.withNixConfig(commands.BUILD_SCRIPT), LAYERSTACK_TIMEOUT: String(6 * 3600), LAYERSTACK_DRV_PATH: DRV,
        });
        expect(push.inputs.create).toBe(commands.scriptStub("layer02-python-tools-push"));
        // The registry read-back's id is the push's fourth trigger (components/registryImage.ts).
        const readBack = recorded.find((r) => r.name === "layer02-python-tools-in-registry")!;
        expect(readBack.type).toBe("pulumi-nodejs:dynamic/layerstack:RegistryImage");
        expect(readBack.inputs).toMatchObject({ registry: "ghcr.io", repository: "owner/megapak/layer02-python-tools", tag: "cu130-0123456789abcdfghijklmnpqrsvwxyz" });
        expect(push.inputs.triggers).toEqual([DRV, "ghcr.io/owner/megapak/layer02-python-tools", "cu130-0123456789abcdfghijklmnpqrsvwxyz", "layer02-python-tools-in-registry-id"]);
        // No format: the push detects the image's kind from the built output.
        expect(push.inputs.environment).toEqual({
            LAYERSTACK_SCRIPT: commands.withNixConfig(commands.PUSH_SCRIPT),
            LAYERSTACK_TIMEOUT: String(2 * 3600),
            LAYERSTACK_LAYER: "layer02-python-tools",
            LAYERSTACK_DRV_PATH: DRV,
            LAYERSTACK_REGISTRY: "ghcr.io",
            LAYERSTACK_TLS_VERIFY: "true",
            LAYERSTACK_REPOSITORY: "ghcr.io/owner/megapak/layer02-python-tools",
            LAYERSTACK_TAG: "cu130-0123456789abcdfghijklmnpqrsvwxyz",
        });
    });

    test("outputs: tag from the drv hash, digest and own blob size from the push", async () => {
        const l = layer("layer-outputs");
        expect(l.tag).toBe("cu130-0123456789abcdfghijklmnpqrsvwxyz");
        expect(await valueOf(l.digest)).toBe(DIGEST);
        expect(await valueOf(l.imageRef)).toBe(`ghcr.io/owner/megapak/layer-outputs@${DIGEST}`);
        expect(await valueOf(l.ownBlobSize)).toBe(4242);
        expect(await valueOf(l.blobs)).toHaveLength(3);
    });

    test("a loopback registry is plain HTTP", async () => {
        const l = layer("layer-local", { registry: "127.0.0.1:5000", format: "stream" });
        await valueOf(l.imageRef);
        const env = recorded.find((r) => r.name === "layer-local-push")!.inputs.environment as Record<string, string>;
        expect(env.LAYERSTACK_TLS_VERIFY).toBe("false");
        expect(env.LAYERSTACK_FORMAT).toBe("stream");
    });

    test("a copyTo program (nix2container) reaches the push as its drvPath and main program", async () => {
        const copyTo = { drvPath: "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-copy-to.drv", mainProgram: "copy-to" };
        const l = layer("layer-n2c", { copyTo });
        await valueOf(l.imageRef);
        const env = recorded.find((r) => r.name === "layer-n2c-push")!.inputs.environment as Record<string, string>;
        expect(env.LAYERSTACK_COPY_TO_DRV).toBe(copyTo.drvPath);
        expect(env.LAYERSTACK_COPY_TO_MAIN).toBe("copy-to");
        expect(env.LAYERSTACK_FORMAT).toBeUndefined();
        // Only the push changes: the build still realises the image's own derivation.
        expect(recorded.find((r) => r.name === "layer-n2c-build")!.inputs.environment).toEqual({
            ...commands.scriptEnv(commands.withNixConfig(commands.BUILD_SCRIPT), 6 * 3600), LAYERSTACK_DRV_PATH: DRV,
        });
    });

    test("the registry password is a secret env var, never in the command text", async () => {
        const sentinel = "s3ntinel-Pa55word";
        const l = layer("layer-auth", { registryAuth: { username: "bot", password: pulumi.secret(sentinel) } });
        expect(await isSecret(l.push.environment as pulumi.Output<unknown>)).toBe(true);
        const env = await valueOf(l.push.environment as pulumi.Output<Record<string, string>>);
        expect(env.LAYERSTACK_REGISTRY_PASSWORD).toBe(sentinel);
        expect(env.LAYERSTACK_REGISTRY_USERNAME).toBe("bot");
        expect(await valueOf(l.push.create as pulumi.Output<string>)).not.toContain(sentinel);
        expect(await isSecret(l.digest)).toBe(false);
    });

    test("a child's push names its parent's pushed image, known before anything runs, for the prefix check", async () => {
        const parent = layer("layer-parent", { drvPath: PARENT_DRV });
        const child = layer("layer-child", { parent });
        await valueOf(child.imageRef);
        const env = recorded.find((r) => r.name === "layer-child-push")!.inputs.environment as Record<string, string>;
        expect(env.LAYERSTACK_PARENT_LAYER).toBe("layer-parent");
        expect(env.LAYERSTACK_PARENT_IMAGE).toBe("ghcr.io/owner/megapak/layer-parent:cu130-zyxwvsrqpnmlkjihgfdcba9876543210");
        const root = recorded.find((r) => r.name === "layer-parent-push")!.inputs.environment as Record<string, string>;
        expect(root.LAYERSTACK_PARENT_IMAGE).toBeUndefined();
    });

    test("scriptStub takes only resource names", () => {
        expect(commands.scriptStub("a-b.c_d-push")).toBe('setpriv --pdeathsig TERM timeout --kill-after=30 "$LAYERSTACK_TIMEOUT" sh -c "$LAYERSTACK_SCRIPT" a-b.c_d-push; s=$?; '
            + '[ $s -ne 124 ] || echo "a-b.c_d-push: timed out after ${LAYERSTACK_TIMEOUT}s (its time limit); every process it started was stopped" >&2; exit $s');
        expect(() => commands.scriptStub("x; rm -rf /")).toThrow('not a step name: "x; rm -rf /"');
    });

    test("layerTag refuses what is not a drv path", () => {
        expect(() => mod.layerTag("dev", "/nix/store/short-x.drv")).toThrow("not a derivation path");
    });

    test("parsePushOutput refuses output without a digest", () => {
        expect(() => mod.parsePushOutput("oops\n{}")).toThrow("push printed no digest");
    });
});
