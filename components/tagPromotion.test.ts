import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecret, valueOf, fakeManifest, Recorded } from "../test/support/mocks";

const DIGEST = "sha256:" + "cd".repeat(32);
const PASSWORD = "registry-PASSW0RD-sentinel";
const recorded: Recorded[] = installMocks({
    stdout: (r) => (r.name.endsWith("-push") ? `${DIGEST}\n${fakeManifest([100, 200])}`
        : r.name.endsWith("-promote") ? `${DIGEST}\n` : undefined),
});

import type * as promotionModule from "./tagPromotion";
import type * as layerModule from "./nixImageLayer";
import * as commands from "../lib/commands";
let mod: typeof promotionModule;
let layers: typeof layerModule;
beforeAll(async () => {
    mod = await import("./tagPromotion");
    layers = await import("./nixImageLayer");
});

const DRV = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-layer01-base-cuda.drv";
const find = (name: string) => recorded.find((r) => r.name === name);

function layerMap(prefix: string, extra: Partial<layerModule.NixImageLayerArgs> = {}) {
    const root = new layers.NixImageLayer(`${prefix}-a`, {
        attr: "a", drvPath: DRV, outPath: "/nix/store/x-a", registry: "ghcr.io", repository: "owner/megapak", variant: "cu130",
        checks: [{ name: "smoke", script: "true" }], ...extra,
    });
    const child = new layers.NixImageLayer(`${prefix}-b`, {
        attr: "b", drvPath: DRV.replace("layer01", "layer02"), outPath: "/nix/store/x-b", registry: "ghcr.io", repository: "owner/megapak",
        variant: "cu130", parent: root, ...extra,
    });
    return new Map([[`${prefix}-a`, root], [`${prefix}-b`, child]]);
}

describe("TagPromotion", () => {
    test("per layer, <variant>-latest is copied from the pushed digest, after the layer's push and checks", async () => {
        const ls = layerMap("p1");
        const promo = new mod.TagPromotion("promote-p1", { layers: ls, registry: "ghcr.io", variant: "cu130", eventName: "push" });
        expect(promo.skipped).toBe(false);
        expect([...promo.commands.keys()]).toEqual(["p1-a", "p1-b"]);
        expect(await valueOf(promo.tags)).toEqual({
            "p1-a": { ref: "ghcr.io/owner/megapak/p1-a:cu130-latest", digest: DIGEST },
            "p1-b": { ref: "ghcr.io/owner/megapak/p1-b:cu130-latest", digest: DIGEST },
        });
        const a = find("p1-a-promote")!;
        expect(a.type).toBe("command:local:Command");
        expect(a.inputs.create).toBe(commands.scriptStub("p1-a-promote"));
        expect(a.inputs.environment).toEqual({
            LAYERSTACK_SCRIPT: commands.PROMOTE_SCRIPT,
            LAYERSTACK_IMAGE_REF: `ghcr.io/owner/megapak/p1-a@${DIGEST}`,
            LAYERSTACK_REPOSITORY: "ghcr.io/owner/megapak/p1-a",
            LAYERSTACK_MOVING_TAG: "cu130-latest",
            LAYERSTACK_REGISTRY: "ghcr.io",
            LAYERSTACK_TLS_VERIFY: "true",
            LAYERSTACK_TIMEOUT: String(15 * 60),
        });
        // The moving tag is read back from the registry (RegistryImage); its id is the third trigger.
        const readBack = find("p1-a-promote-in-registry")!;
        expect(readBack.type).toBe("pulumi-nodejs:dynamic/layerstack:RegistryImage");
        expect(readBack.inputs).toMatchObject({ registry: "ghcr.io", repository: "owner/megapak/p1-a", tag: "cu130-latest" });
        expect(a.inputs.triggers).toEqual([`ghcr.io/owner/megapak/p1-a@${DIGEST}`, "ghcr.io/owner/megapak/p1-a:cu130-latest", "p1-a-promote-in-registry-id"]);
        // The root layer's gate is its push and its check (the next test checks the dependency).
        expect(ls.get("p1-a")!.gate).toHaveLength(2);
    });

    test("the command's dependencies are exactly the layer's gate", async () => {
        // The dependsOn given to the command, read through Pulumi's own record of it.
        const ls = layerMap("p2");
        const seen: pulumi.Resource[][] = [];
        const promo = new mod.TagPromotion("promote-p2", { layers: ls, registry: "ghcr.io", variant: "cu130", eventName: "workflow_dispatch" }, {
            transformations: [(a) => { if (a.name.endsWith("-promote")) seen.push(a.opts.dependsOn as pulumi.Resource[]); return undefined; }],
        });
        await valueOf(promo.tags);
        expect(seen).toHaveLength(2);
        expect(seen[0]).toEqual(ls.get("p2-a")!.gate);
        expect(seen[1]).toEqual(ls.get("p2-b")!.gate);
    });

    test("registry password: secret environment only, never in the command text", async () => {
        const auth = { username: "bot", password: pulumi.secret(PASSWORD) };
        const ls = layerMap("p3", { registryAuth: auth });
        const promo = new mod.TagPromotion("promote-p3", { layers: ls, registry: "ghcr.io", variant: "cu128", registryAuth: auth, eventName: "push" });
        const c = promo.commands.get("p3-a")!;
        expect(await isSecret(c.environment as pulumi.Output<unknown>)).toBe(true);
        const env = await valueOf(c.environment as pulumi.Output<Record<string, string>>);
        expect(env.LAYERSTACK_REGISTRY_PASSWORD).toBe(PASSWORD);
        expect(env.LAYERSTACK_MOVING_TAG).toBe("cu128-latest");
        expect(await valueOf(c.create as pulumi.Output<string>)).not.toContain(PASSWORD);
        expect(commands.PROMOTE_SCRIPT).toContain("--password-stdin");
        // The digest is published as plain data.
        expect(await isSecret(promo.tags)).toBe(false);
        expect((await valueOf(promo.tags))["p3-a"].digest).toBe(DIGEST);
    });

    test.each(["pull_request", "pull_request_target"])("for a %s event no tag moves, and a log line says why", async (eventName) => {
        const info = jest.spyOn(pulumi.log, "info");
        const before = recorded.length;
        const promo = new mod.TagPromotion(`promote-${eventName}`, { layers: layerMap(`pr-${eventName}`), registry: "ghcr.io", variant: "cu130", eventName });
        expect(promo.skipped).toBe(true);
        expect(promo.commands.size).toBe(0);
        expect(await valueOf(promo.tags)).toEqual({});
        await valueOf(promo.urn);
        expect(recorded.slice(before).filter((r) => r.name.endsWith("-promote"))).toEqual([]);
        expect(info).toHaveBeenCalledWith(`moving tags: GITHUB_EVENT_NAME=${eventName}: this is a pull request, so no cu130-latest tag is promoted`, promo);
        info.mockRestore();
    });

    test("the event defaults to GITHUB_EVENT_NAME from the environment", () => {
        const saved = process.env.GITHUB_EVENT_NAME;
        try {
            process.env.GITHUB_EVENT_NAME = "pull_request";
            expect(new mod.TagPromotion("promote-env-pr", { layers: new Map(), registry: "ghcr.io", variant: "dev" }).skipped).toBe(true);
            process.env.GITHUB_EVENT_NAME = "push";
            expect(new mod.TagPromotion("promote-env-push", { layers: new Map(), registry: "ghcr.io", variant: "dev" }).skipped).toBe(false);
            delete process.env.GITHUB_EVENT_NAME;
            expect(new mod.TagPromotion("promote-env-none", { layers: new Map(), registry: "ghcr.io", variant: "dev" }).skipped).toBe(false);
        } finally {
            if (saved === undefined) delete process.env.GITHUB_EVENT_NAME; else process.env.GITHUB_EVENT_NAME = saved;
        }
        expect(mod.isPullRequest(undefined)).toBe(false);
        expect(mod.movingTag("cu130")).toBe("cu130-latest");
    });
});
