import * as path from "path";
import { RawConfig, validateConfig, absolutizeFlake } from "./config";
import { LayerstackError } from "./errors";

const projectDir = path.resolve(__dirname, "..");
const ctx = { stack: "dev", projectDir };
const good: RawConfig = {
    flake: "path:./fixtures/megapak",
    registry: "127.0.0.1:5000",
    repository: "layerstack/megapak",
    hasRegistryPassword: false,
};

function errorOf(raw: Partial<RawConfig>): string {
    try {
        validateConfig({ ...good, ...raw } as RawConfig, ctx);
    } catch (e) {
        expect(e).toBeInstanceOf(LayerstackError);
        return (e as Error).message;
    }
    throw new Error("expected a config error");
}

describe("validateConfig", () => {
    test("a minimal stack gets the catalog, absolute flake and defaults", () => {
        const s = validateConfig(good, ctx);
        expect(s.flake).toBe(`path:${projectDir}/fixtures/megapak`);
        expect(s.layers.map((l) => l.id)).toEqual([
            "layer01-base-cuda", "layer02-python-tools", "layer03-gcc15", "layer04-pytorch", "layer05-pak3", "layer06-cupy",
            "layer07-pak5", "layer08-pak7", "layer10-performance", "layer11-app", "layer12-comfyui",
        ]);
        expect(s.layers.find((l) => l.id === "layer10-performance")!.parent).toBe("layer08-pak7");
        expect(s.system).toBe("x86_64-linux");
        expect(s.variant).toBe("dev");
        expect(s.buildTimeoutSeconds).toBeUndefined();
        expect(s.auth).toBeUndefined();
    });

    test.each<[string, Partial<RawConfig>, string]>([
        ["missing flake", { flake: undefined }, "layerstack:flake is required"],
        ["bad flake", { flake: "not a flake" }, 'layerstack:flake: "not a flake" is not a flake reference'],
        ["flake dir without flake.nix", { flake: "path:/tmp" }, "layerstack:flake: no flake.nix in /tmp"],
        ["missing registry", { registry: "" }, "layerstack:registry is required"],
        ["registry with scheme", { registry: "https://ghcr.io" }, 'layerstack:registry: "https://ghcr.io" is not a registry host[:port]'],
        ["registry port out of range", { registry: "127.0.0.1:70000" }, 'layerstack:registry: "127.0.0.1:70000" is not a registry host[:port]'],
        ["repository with capitals", { repository: "Owner/Megapak" }, 'layerstack:repository: "Owner/Megapak" is not a repository path'],
        ["bad system", { system: "x86 linux" }, 'layerstack:system: "x86 linux" is not a Nix system'],
        ["bad variant", { variant: "CU 130" }, 'layerstack:variant: "CU 130" must be lowercase'],
        ["zero timeout", { buildTimeout: "0" }, 'layerstack:buildTimeout: "0" must be a whole number of seconds, at least 1'],
        ["fractional timeout", { buildTimeout: "1.5" }, 'layerstack:buildTimeout: "1.5" must be a whole number'],
        ["username without password", { registryUsername: "bot" }, "layerstack:registryPassword is required when layerstack:registryUsername is set"],
        ["password without username", { hasRegistryPassword: true }, "layerstack:registryUsername is required when layerstack:registryPassword is set"],
        ["layers not a list", { layers: { id: "a" } }, "layerstack:layers: must be a non-empty list"],
        ["layer with unknown field", { layers: [{ id: "a", attr: "a", parnt: "b" }] }, 'layerstack:layers[0]: unknown field "parnt"'],
        ["unknown parent", { layers: [{ id: "a", attr: "a", parent: "zz" }] }, 'layerstack:layers: layer "a" has unknown parent "zz"'],
        ["cycle", { layers: [{ id: "a", attr: "a", parent: "b" }, { id: "b", attr: "b", parent: "a" }] }, 'layerstack:layers: layer "a" is in a cycle: a -> b -> a'],
        ["duplicate id", { layers: [{ id: "a", attr: "a" }, { id: "a", attr: "b" }] }, 'layerstack:layers[1]: duplicate layer id "a"'],
        ["bad format", { layers: [{ id: "a", attr: "a", format: "tarball" }] }, 'layerstack:layers[0]: layer "a" has format "tarball"; expected one of oci, docker-archive, stream'],
        ["bad id", { layers: [{ id: "A B", attr: "a" }] }, 'layerstack:layers[0]: layer id "A B" must be lowercase'],
    ])("%s", (_name, raw, expected) => {
        expect(errorOf(raw)).toContain(expected);
    });

    test("several problems are reported together", () => {
        const msg = errorOf({ registry: "x y", repository: "A" });
        expect(msg).toMatch(/^2 problems:/);
        expect(msg).toContain("layerstack:registry");
        expect(msg).toContain("layerstack:repository");
    });

    test("layers from config keep their order and parents; attr defaults to id", () => {
        const s = validateConfig({ ...good, layers: [{ id: "app", parent: "base" }, { id: "base", attr: "layer01-base-cuda" }] }, ctx);
        expect(s.layersSource).toBe("layerstack:layers");
        expect(s.layers).toEqual([
            { id: "base", attr: "layer01-base-cuda", parent: undefined, format: undefined },
            { id: "app", attr: "app", parent: "base", format: undefined },
        ]);
    });

    test("a username with a password set comes back as auth", () => {
        expect(validateConfig({ ...good, registryUsername: "bot", hasRegistryPassword: true }, ctx).auth).toEqual({ username: "bot" });
    });
});

describe("absolutizeFlake", () => {
    test.each([
        ["path:./fx", "path:/p/fx"],
        ["./fx", "path:/p/fx"],
        ["/abs/fx", "path:/abs/fx"],
        ["path:fx?dir=sub", "path:/p/fx?dir=sub"],
        ["github:owner/repo", "github:owner/repo"],
    ])("%s -> %s", (ref, want) => expect(absolutizeFlake(ref, "/p")).toBe(want));
});
