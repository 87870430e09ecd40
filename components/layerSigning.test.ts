// LayerSigning under Pulumi's mocks: its children's names and inputs, what triggers the sign, the
// SBOM it hands cosign, and the gate a moving tag waits for. The provenance's record
// (`<id>-provenance`, a dynamic resource) does not register under jest: Pulumi's closure
// serializer needs v8.getFunctionLocationAsync, which jest's environment lacks; the provenance
// is tested in lib/provenance.test.ts and on the real engine in test/e2e/signing.test.ts.
import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecret, valueOf, fakeManifest, Recorded } from "../test/support/mocks";

const DIGEST = "sha256:" + "ab".repeat(32);
const PARENT_DIGEST = "sha256:" + "cd".repeat(32);
const TOOLS = "/nix/store/m118qq2xwlvm3fd4vvxz49kamm77fm4q-fixture-tools";
const recorded: Recorded[] = installMocks({
    stdout: (r) => r.name.endsWith("-push") ? `${r.name.startsWith("base") ? PARENT_DIGEST : DIGEST}\n${fakeManifest([100, 200])}`
        : r.name.endsWith("-sbom-paths") ? `sha256:${"ef".repeat(32)}\n${TOOLS}\n--\n${JSON.stringify({ [TOOLS]: { narHash: "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", deriver: "/nix/store/05qgvqgw5jzpzw74rh2zr84qjmbzjfwc-fixture-tools.drv" } })}\n`
            : undefined,
});

import type * as layerModule from "./nixImageLayer";
import * as commands from "../lib/commands";
let mod: typeof layerModule;
beforeAll(async () => { mod = await import("./nixImageLayer"); });

const DRV = "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nobin.drv";
const signing = {
    key: { privateKey: pulumi.secret("PRIVATE KEY"), password: pulumi.secret("PASSWORD"), publicKey: "PEM\n" },
    provenance: {
        stack: "cu130", project: "layerstack", flake: "path:/f", system: "x86_64-linux", hostname: "host-1",
        flakeMetadata: pulumi.output({ url: "path:/f?narHash=sha256-x", locked: { narHash: "sha256-x" } }),
    },
};

describe("LayerSigning", () => {
    test("children named after the layer; the sign step is triggered by the digest and the read-back of .sig and .att; the key and its password are secret", async () => {
        const base = new mod.NixImageLayer("base", { attr: "base", drvPath: DRV.replace("nobin", "base"), outPath: "/nix/store/x-base", registry: "ghcr.io", repository: "o/m", variant: "cu130", signing });
        const l = new mod.NixImageLayer("nobin", { attr: "nobin", drvPath: DRV, outPath: "/nix/store/x-nobin", registry: "ghcr.io", repository: "o/m", variant: "cu130", signing, parent: base });
        await valueOf(l.signing!.sign.stdout);
        const names = recorded.map((r) => r.name).filter((n) => n.startsWith("nobin-"));
        expect(names).toEqual(expect.arrayContaining(["nobin-signing", "nobin-sbom-paths", "nobin-sig-in-registry", "nobin-att-in-registry", "nobin-sign"]));
        const sig = recorded.find((r) => r.name === "nobin-sig-in-registry")!;
        const att = recorded.find((r) => r.name === "nobin-att-in-registry")!;
        expect(sig.type).toBe("pulumi-nodejs:dynamic/layerstack:RegistryImage");
        expect(sig.inputs).toMatchObject({ registry: "ghcr.io", repository: "o/m/nobin", tag: `sha256-${"ab".repeat(32)}.sig` });
        expect(att.inputs).toMatchObject({ tag: `sha256-${"ab".repeat(32)}.att` });
        const sign = recorded.find((r) => r.name === "nobin-sign")!;
        expect(sign.inputs.create).toBe(commands.scriptStub("nobin-sign"));
        expect(sign.inputs.triggers).toEqual([`ghcr.io/o/m/nobin@${DIGEST}`, "nobin-sig-in-registry-id", "nobin-att-in-registry-id"]);
        const paths = recorded.find((r) => r.name === "nobin-sbom-paths")!;
        expect(paths.inputs.triggers).toEqual([`ghcr.io/o/m/nobin@${DIGEST}`]);
        // Secret environment, whatever the mocks make of the values.
        const env = l.signing!.sign.environment as unknown as pulumi.Output<Record<string, string>>;
        expect(await isSecret(env)).toBe(true);
        // The mocks get the whole environment as one secret value (Pulumi's secret signature and the value).
        const recordedEnv = sign.inputs.environment as { [k: string]: unknown; value: Record<string, string> };
        expect(recordedEnv["4dabf18193072939515e22adb298388d"]).toBe("1b47061264138c4ac30d75fd1eb44270");
        expect(recordedEnv.value.LAYERSTACK_SIGNING_KEY).toBe("PRIVATE KEY");
        expect(recordedEnv.value).toMatchObject({ LAYERSTACK_IMAGE_REF: `ghcr.io/o/m/nobin@${DIGEST}`, LAYERSTACK_SIGNING_PUBLIC_KEY: "PEM\n", LAYERSTACK_LAYER: "nobin" });
    });

    test("stdin: first line the SBOM of the store paths the blob step found, for this digest", async () => {
        const stdin = recorded.find((r) => r.name === "nobin-sign")!.inputs.stdin as string;
        const bom = JSON.parse(stdin.split("\n")[0]);
        expect(bom.components.map((c: { "bom-ref": string }) => c["bom-ref"])).toEqual([TOOLS]);
        expect(bom.metadata.component["bom-ref"]).toBe(`ghcr.io/o/m/nobin@${DIGEST}`);
        expect(bom.metadata.component.properties).toContainEqual({ name: "nix:drv_path", value: DRV });
    });

    test("a moving tag waits for the signature: the layer's promotionGate holds the sign step; an unsigned layer's is its gate", async () => {
        const l = new mod.NixImageLayer("gated", { attr: "gated", drvPath: DRV.replace("nobin", "gated"), outPath: "/nix/store/x-g", registry: "ghcr.io", repository: "o/m", variant: "cu130", signing });
        expect(l.promotionGate).toEqual([...l.gate, l.signing!.sign]);
        const u = new mod.NixImageLayer("unsigned", { attr: "unsigned", drvPath: DRV.replace("nobin", "unsign"), outPath: "/nix/store/x-u", registry: "ghcr.io", repository: "o/m", variant: "cu130" });
        expect(u.signing).toBeUndefined();
        expect(u.promotionGate).toEqual(u.gate);
        await valueOf(u.imageRef);
        expect(recorded.some((r) => r.name.startsWith("unsigned-sign"))).toBe(false);
    });
});
