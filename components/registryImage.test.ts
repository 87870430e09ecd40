import * as pulumi from "@pulumi/pulumi";
import { installMocks, valueOf, Recorded } from "../test/support/mocks";

const recorded: Recorded[] = installMocks();
import type * as registryImageModule from "./registryImage";
let mod: typeof registryImageModule;
beforeAll(async () => { mod = await import("./registryImage"); });

describe("RegistryReadBack", () => {
    test("is a pulumi-nodejs provider, aliased to the default one that stacks published before it hold", async () => {
        const p = new mod.RegistryReadBack("registry-read-back");
        const urn = await new Promise<string>((resolve) => p.urn.apply((u) => { resolve(u); return u; }));
        expect(urn).toBe("urn:pulumi:unittest::layerstack::pulumi:providers:pulumi-nodejs::registry-read-back");
        const r = recorded.find((x) => x.name === "registry-read-back")!;
        expect(r.type).toBe("pulumi:providers:pulumi-nodejs");
        // The alias names the default provider's URN (the engine's default provider is `default`).
        const aliases = await Promise.all(((p as any).__aliases as pulumi.Input<string>[]).map((a) => valueOf(pulumi.output(a))));
        expect(aliases).toContain("urn:pulumi:unittest::layerstack::pulumi:providers:pulumi-nodejs::default");
    });

    test("a RegistryImage under a component given it (providers) is served by it", async () => {
        const p = new mod.RegistryReadBack("rb2");
        const parent = new pulumi.ComponentResource("layerstack:index:Test", "holder", {}, { providers: [p] });
        const image = new mod.RegistryImage("holder-in-registry", { registry: "127.0.0.1:5000", repository: "a/b", tag: "t" }, { parent });
        expect((image as any).__prov).toBe(p);
    });
});
