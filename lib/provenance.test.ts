// A layer's SLSA provenance v1 predicate (lib/provenance.ts): only the spec's fields (cosign
// drops others), with the locked flake, the attribute, the drvPath, the builder, the parent and the stack.
import { BUILD_TYPE, layerProvenance, lockedUrl } from "./provenance";

const base = {
    stack: "cu130", project: "layerstack", layer: "layer02-python-tools", flake: "github:owner/megapak",
    flakeMetadata: { originalUrl: "github:owner/megapak", url: "github:owner/megapak/0123456789abcdef0123456789abcdef01234567?narHash=sha256-x", locked: { rev: "0123456789abcdef0123456789abcdef01234567", narHash: "sha256-x" } },
    system: "x86_64-linux", attr: "layer02-python-tools", drvPath: "/nix/store/aaaa-layer02.drv", outPath: "/nix/store/bbbb-layer02", hostname: "builder-1",
};

describe("layerProvenance", () => {
    test("records the locked flake, the attribute, the drvPath, the parent's digest, the stack and this machine", () => {
        const p = layerProvenance({ ...base, parentImageRef: `ghcr.io/owner/megapak/layer01@sha256:${"c".repeat(64)}` });
        expect(Object.keys(p).sort()).toEqual(["buildDefinition", "runDetails"]);
        expect(p).toEqual({
            buildDefinition: {
                buildType: BUILD_TYPE,
                externalParameters: {
                    flake: "github:owner/megapak", attribute: "packages.x86_64-linux.layer02-python-tools", stack: "layerstack/cu130",
                    layer: "layer02-python-tools", parentImage: `ghcr.io/owner/megapak/layer01@sha256:${"c".repeat(64)}`,
                },
                internalParameters: { drvPath: "/nix/store/aaaa-layer02.drv", outPath: "/nix/store/bbbb-layer02", lockedFlake: base.flakeMetadata.url },
                resolvedDependencies: [
                    { name: "flake", uri: base.flakeMetadata.url, digest: { gitCommit: "0123456789abcdef0123456789abcdef01234567", narHash: "sha256-x" } },
                    { name: "derivation", uri: "file:///nix/store/aaaa-layer02.drv" },
                    { name: "parent", uri: `ghcr.io/owner/megapak/layer01@sha256:${"c".repeat(64)}`, digest: { sha256: "c".repeat(64) } },
                ],
            },
            runDetails: { builder: { id: "nix-local:builder-1" } },
        });
    });

    test("a root layer names no parent", () => {
        const p = layerProvenance(base) as any;
        expect(p.buildDefinition.externalParameters.parentImage).toBeUndefined();
        expect(p.buildDefinition.resolvedDependencies.map((d: { name: string }) => d.name)).toEqual(["flake", "derivation"]);
    });

    test("with remote builders, the builder is the set of machines Nix may pick, sorted", () => {
        const p = layerProvenance({ ...base, builders: ["ssh-ng://b@two", "ssh-ng://a@one"] }) as any;
        expect(p.runDetails.builder).toEqual({ id: "nix-remote-builders:ssh-ng://a@one,ssh-ng://b@two" });
    });

    test("older Nix's lockedUrl is read too; a flake Nix did not lock fails naming the layer", () => {
        expect(lockedUrl({ lockedUrl: "path:/x?narHash=sha256-y" })).toBe("path:/x?narHash=sha256-y");
        expect(() => layerProvenance({ ...base, flakeMetadata: {} })).toThrow("layer layer02-python-tools: provenance: nix flake metadata gave no locked reference for github:owner/megapak");
    });
});
