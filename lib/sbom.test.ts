// A layer's CycloneDX SBOM (lib/sbom.ts), written by CycloneDX's own library: one component per
// store path of the layer's own blob, with Nix's name and version, the NAR hash and the deriver.
import { STORE_PATH, layerSbom, narHashHex, parsePathInfo, sbomStorePaths } from "./sbom";

const A = "/nix/store/0c4cgd3zcm52ps1l1lyrylnc4j8ddwqv-python3.14-numpy-2.3.2";
const B = "/nix/store/m118qq2xwlvm3fd4vvxz49kamm77fm4q-fixture-tools";
// sha256 of the empty string, as Nix prints it in both forms.
const EMPTY_HEX = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
const EMPTY_SRI = "sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=";
const EMPTY_NIX32 = "sha256:0mdqa9w1p6cmli6976v4wi0sw9r4p5prkj7lzfd1877wk11c9c73";
const subject = { layer: "layer05-pak3", imageRef: `127.0.0.1:5000/layerstack/megapak/layer05-pak3@sha256:${"a".repeat(64)}`, drvPath: "/nix/store/zv81z80dmn56zrijpg19dx33dfi3qkhy-layer05-pak3.drv" };
const info = new Map([
    [A, { narHash: EMPTY_SRI, narSize: 1024, deriver: "/nix/store/cs41377svzlv7sv8qkqw7717s56lhvy1-python3.14-numpy-2.3.2.drv" }],
    [B, { narHash: EMPTY_NIX32, narSize: 7, deriver: null }],
]);

describe("narHashHex", () => {
    test("reads both of Nix's forms (SRI base64 and its own base-32) to the same hex", () => {
        expect(narHashHex(EMPTY_SRI)).toBe(EMPTY_HEX);
        expect(narHashHex(EMPTY_NIX32)).toBe(EMPTY_HEX);
        expect(narHashHex(`sha256:${EMPTY_HEX}`)).toBe(EMPTY_HEX);
    });
    test("anything else is no NAR hash", () => {
        expect(narHashHex("md5-1B2M2Y8AsgTpgAmY7PhCfg==")).toBeUndefined();
        expect(narHashHex(undefined)).toBeUndefined();
        expect(narHashHex("sha256:eeee")).toBeUndefined();
    });
});

describe("parsePathInfo", () => {
    test("Nix 2.19+'s object keyed by path, and older Nix's array (invalid paths dropped)", () => {
        expect(parsePathInfo(JSON.stringify({ [A]: { narHash: EMPTY_SRI }, [B]: null })).get(A)).toEqual({ narHash: EMPTY_SRI });
        expect([...parsePathInfo(JSON.stringify({ [A]: { narHash: EMPTY_SRI }, [B]: null })).keys()]).toEqual([A]);
        const old = parsePathInfo(JSON.stringify([{ path: A, narHash: EMPTY_NIX32 }, { path: B, valid: false }]));
        expect([...old.keys()]).toEqual([A]);
    });
});

describe("layerSbom", () => {
    const doc = JSON.parse(layerSbom(subject, [B, A, A], info));

    test("is a CycloneDX 1.6 document about the layer's image", () => {
        expect(doc.bomFormat).toBe("CycloneDX");
        expect(doc.specVersion).toBe("1.6");
        expect(doc.metadata.component).toMatchObject({ type: "container", name: "127.0.0.1:5000/layerstack/megapak/layer05-pak3", version: `sha256:${"a".repeat(64)}`, "bom-ref": subject.imageRef });
        expect(doc.metadata.component.properties).toEqual([{ name: "layerstack:layer", value: "layer05-pak3" }, { name: "nix:drv_path", value: subject.drvPath }]);
    });

    test("one component per store path, sorted, each with Nix's name and version, the NAR hash and the deriver where known", () => {
        expect(doc.components).toHaveLength(2);
        const [numpy, tools] = doc.components;
        expect(numpy).toEqual({
            type: "library", name: "python3.14-numpy", version: "2.3.2", "bom-ref": A,
            hashes: [{ alg: "SHA-256", content: EMPTY_HEX }],
            properties: [
                { name: "nix:deriver", value: "/nix/store/cs41377svzlv7sv8qkqw7717s56lhvy1-python3.14-numpy-2.3.2.drv" },
                { name: "nix:nar_hash", value: EMPTY_SRI },
                { name: "nix:nar_size", value: "1024" },
                { name: "nix:store_path", value: A },
            ],
        });
        // No version in its name: none; Nix forgot its deriver: none.
        expect(tools.name).toBe("fixture-tools");
        expect(tools.version).toBeUndefined();
        expect(tools.properties.map((p: { name: string }) => p.name)).toEqual(["nix:nar_hash", "nix:nar_size", "nix:store_path"]);
        expect(sbomStorePaths(JSON.stringify(doc))).toEqual([A, B].sort());
    });

    test("the image depends on every component", () => {
        expect(doc.dependencies.find((d: { ref: string }) => d.ref === subject.imageRef).dependsOn).toEqual([A, B].sort());
    });

    test("the same paths give the same bytes, in any order (no serial number, no timestamp)", () => {
        expect(layerSbom(subject, [A, B], info)).toBe(layerSbom(subject, [B, A], info));
        expect(doc.serialNumber).toBeUndefined();
        expect(doc.metadata.timestamp).toBeUndefined();
    });

    test("a blob without store paths has an SBOM without components", () => {
        expect(sbomStorePaths(layerSbom(subject, [], new Map()))).toEqual([]);
    });

    test("a path Nix knows nothing of, or no store path at all, fails naming the layer", () => {
        expect(() => layerSbom(subject, [A], new Map())).toThrow(`layer layer05-pak3: SBOM: Nix has no NAR hash of ${A} (is it in this machine's store?)`);
        expect(() => layerSbom(subject, ["/usr/bin/sh"], info)).toThrow('layer layer05-pak3: SBOM: "/usr/bin/sh" is no store path');
    });

    test("STORE_PATH accepts Nix's base-32 hashes only", () => {
        expect(STORE_PATH.test(A)).toBe(true);
        expect(STORE_PATH.test("/nix/store/eeeeeeeeeeeeeeeeeeeeeeeeeeeeeeee-x")).toBe(false); // 'e' is not in Nix's alphabet
    });
});
