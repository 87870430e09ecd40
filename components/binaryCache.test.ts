import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecret, valueOf, Recorded } from "../test/support/mocks";

const TOKEN = "cachix-T0KEN-sentinel";
const SIGNING = "cache.example-1:s1gning-KEY-sentinel";
const PUBKEY = "megapak.cachix.org-1:" + "x".repeat(43) + "=";
const recorded: Recorded[] = installMocks({
    stdout: (r) => (r.name.endsWith("-info") ? JSON.stringify({ name: "megapak", uri: "https://megapak.cachix.org", publicSigningKeys: [PUBKEY], isPublic: !r.name.startsWith("private") }) : undefined),
});

import type * as cacheModule from "./binaryCache";
import * as commands from "../lib/commands";
let mod: typeof cacheModule;
beforeAll(async () => { mod = await import("./binaryCache"); });

const DRV = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-layer01-base-cuda.drv";
const find = (name: string) => recorded.find((r) => r.name === name)!;
const text = (c: { create: pulumi.Output<string | undefined> }) => valueOf(c.create as pulumi.Output<string>);

describe("BinaryCache: cachix", () => {
    test("reads the cache's key and URL with the token (a private cache needs it); pushes each closure with the token and signing key as secret env vars", async () => {
        const cache = new mod.BinaryCache("cachix", {
            kind: "cachix", name: "megapak", authToken: pulumi.secret(TOKEN), apiUrl: "http://127.0.0.1:8080/api/v1/",
            signingKey: pulumi.secret(SIGNING), closures: [{ id: "layer01", drvPath: DRV }],
        });
        expect(await valueOf(cache.substituter)).toBe("https://megapak.cachix.org");
        expect(await valueOf(cache.publicKeys)).toEqual([PUBKEY]);
        expect(await valueOf(cache.nixConfig)).toBe(`extra-substituters = https://megapak.cachix.org\nextra-trusted-public-keys = ${PUBKEY}`);

        const info = find("cachix-info");
        expect(info.type).toBe("command:local:Command");
        expect(info.inputs.create).toBe(commands.scriptStub("cachix-info"));
        expect(info.inputs.create).not.toContain(TOKEN);
        const infoCmd = cache.info!;
        expect(await isSecret(infoCmd.environment as pulumi.Output<unknown>)).toBe(true);
        expect(await valueOf(infoCmd.environment as pulumi.Output<Record<string, string>>)).toEqual({
            LAYERSTACK_CACHIX_API_URL: "http://127.0.0.1:8080/api/v1", LAYERSTACK_CACHIX_CACHE: "megapak", CACHIX_AUTH_TOKEN: TOKEN,
            LAYERSTACK_SCRIPT: commands.CACHIX_INFO_SCRIPT, LAYERSTACK_TIMEOUT: "120",
        });

        const push = cache.pushes.get("layer01")!;
        await valueOf(push.urn);
        expect(find("cachix-push-layer01").inputs.create).toBe(commands.scriptStub("cachix-push-layer01"));
        expect(find("cachix-push-layer01").inputs.triggers).toEqual([DRV, "cachix:megapak"]);
        expect(await isSecret(push.environment as pulumi.Output<unknown>)).toBe(true);
        const env = await valueOf(push.environment as pulumi.Output<Record<string, string>>);
        expect(env).toEqual({
            LAYERSTACK_DRV_PATH: DRV, LAYERSTACK_LAYER: "layer01", LAYERSTACK_CACHIX_CACHE: "megapak", CACHIX_AUTH_TOKEN: TOKEN, CACHIX_SIGNING_KEY: SIGNING,
            LAYERSTACK_SCRIPT: commands.withNetrc(commands.withNixConfig(commands.CACHIX_PUSH_SCRIPT)), LAYERSTACK_TIMEOUT: String(2 * 3600),
            // A public cache: an empty netrc.
            LAYERSTACK_NIX_NETRC: "",
        });
        expect(await valueOf(cache.netrc!)).toBe("");
        expect(await text(push)).not.toContain(TOKEN);
        expect(await text(push)).not.toContain(SIGNING);
        // cachix reads both from its environment; the script never names or prints them.
        expect(commands.CACHIX_PUSH_SCRIPT).not.toMatch(/CACHIX_AUTH_TOKEN|echo[^\n]*CACHIX_SIGNING_KEY/);
        expect(await isSecret(cache.substituter)).toBe(false);
    });

    test("a private cache (Cachix's isPublic: false): a netrc with the token as password, secret, for every push", async () => {
        const cache = new mod.BinaryCache("private", {
            kind: "cachix", name: "megapak", authToken: pulumi.secret(TOKEN), closures: [{ id: "layer01", drvPath: DRV }],
        });
        expect(await isSecret(cache.netrc!)).toBe(true);
        expect(await valueOf(cache.netrc!)).toBe(`machine megapak.cachix.org password ${TOKEN}`);
        const push = cache.pushes.get("layer01")!;
        await valueOf(push.urn);
        const env = await valueOf(push.environment as pulumi.Output<Record<string, string>>);
        expect(env.LAYERSTACK_NIX_NETRC).toBe(`machine megapak.cachix.org password ${TOKEN}`);
        expect(await text(push)).not.toContain(TOKEN);
    });

    test("a Cachix answer without keys fails, naming the cache", () => {
        expect(() => commands.parseCachixInfo('{"uri":"https://x.cachix.org","publicSigningKeys":[]}', "x")).toThrow("Cachix cache x: the API answer has no uri or publicSigningKeys");
        expect(() => commands.parseCachixInfo("<html>", "x")).toThrow("Cachix cache x: the API did not answer JSON");
    });
});

describe("BinaryCache: nix-store", () => {
    test("substitutes from the store URL with its key; pushes with nix copy, the signing key a secret", async () => {
        const build = new pulumi.CustomResource("test:index:Build", "layer01-build", {});
        const cache = new mod.BinaryCache("filecache", {
            kind: "nix-store", url: "file:///var/cache/nix", publicKey: "cache.example-1:" + "A".repeat(43) + "=", signingKey: pulumi.secret(SIGNING),
            closures: [{ id: "layer01", drvPath: DRV, dependsOn: [build] }, { id: "layer02", drvPath: DRV.replace("layer01", "layer02") }],
        });
        expect(await valueOf(cache.substituter)).toBe("file:///var/cache/nix");
        expect(await valueOf(cache.nixConfig)).toBe(`extra-substituters = file:///var/cache/nix\nextra-trusted-public-keys = cache.example-1:${"A".repeat(43)}=`);
        expect(recorded.some((r) => r.name === "filecache-info")).toBe(false);
        const push = cache.pushes.get("layer01")!;
        await valueOf(push.urn);
        await valueOf(cache.pushes.get("layer02")!.urn);
        expect(find("filecache-push-layer01").inputs.create).toBe(commands.scriptStub("filecache-push-layer01"));
        expect(find("filecache-push-layer02").inputs.triggers).toEqual([DRV.replace("layer01", "layer02"), "file:///var/cache/nix"]);
        expect(await isSecret(push.environment as pulumi.Output<unknown>)).toBe(true);
        expect(await valueOf(push.environment as pulumi.Output<Record<string, string>>)).toEqual({
            LAYERSTACK_DRV_PATH: DRV, LAYERSTACK_LAYER: "layer01", LAYERSTACK_CACHE_URL: "file:///var/cache/nix", LAYERSTACK_CACHE_SIGNING_KEY: SIGNING,
            LAYERSTACK_SCRIPT: commands.withNixConfig(commands.NIX_COPY_PUSH_SCRIPT), LAYERSTACK_TIMEOUT: String(2 * 3600),
        });
        expect(await text(push)).not.toContain(SIGNING);
    });

    test("an unsigned cache trusts no key", async () => {
        const cache = new mod.BinaryCache("plain", { kind: "nix-store", url: "s3://bucket" });
        expect(await valueOf(cache.nixConfig)).toBe("extra-substituters = s3://bucket");
        expect(cache.pushes.size).toBe(0);
    });
});
