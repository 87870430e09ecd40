// A nix2container image's own layers, from the one evaluation and no build (lib/nix2container.ts),
// against the fixture that writes nix2container's formats (fixtures/nix2container) with real Nix.
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { evaluateAttrs, Evaluated } from "./nix";
import { containerLayers, derivationOutputs } from "./nix2container";

const FIXTURE = path.resolve(__dirname, "../fixtures/nix2container");
const dirs: string[] = [];
afterAll(() => { for (const d of dirs) fs.rmSync(d, { recursive: true, force: true }); });

/** A copy of the fixture whose layer contents carry a nonce, so nothing of it was ever built. */
function fixture(edit?: (spec: any) => void): string {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-n2c-"));
    dirs.push(dir);
    fs.cpSync(FIXTURE, dir, { recursive: true });
    const file = path.join(dir, "layers.json");
    const spec = JSON.parse(fs.readFileSync(file, "utf8"));
    const nonce = crypto.randomBytes(8).toString("hex");
    for (const l of spec.layers) l.content = `${l.content} ${nonce}`;
    edit?.(spec);
    fs.writeFileSync(file, JSON.stringify(spec));
    return `path:${dir}`;
}

/** The component a fixture layer's derivation tars (its `root`), by name: base, python, ... customization's is "app". */
function componentOf(drv: string): string {
    const m = /\("root","\/nix\/store\/[0-9a-z]{32}-component-([^"]+)"\)/.exec(fs.readFileSync(drv, "utf8"));
    if (!m) throw new Error(`no root in ${drv}`);
    return m[1];
}

test("a derivation file's outputs", () => {
    expect([...derivationOutputs('Derive([("dev","/nix/store/a-x-dev","",""),("out","/nix/store/b-x","","")],[],[],"x86_64-linux","/bin/sh",[],[])')])
        .toEqual([["dev", "/nix/store/a-x-dev"], ["out", "/nix/store/b-x"]]);
    expect(derivationOutputs("not a derivation").size).toBe(0);
});

test("a layers.json no input derivation makes is refused, naming it", () => {
    expect(() => containerLayers(["/nix/store/x-layers.json/layers.json"], [], () => "")).toThrow("nix2container image: no input derivation makes /nix/store/x-layers.json/layers.json");
});

describe("the folded fixture image (five layers, each `layers = priorLayers`)", () => {
    let first: Evaluated;
    let flake: string;
    beforeAll(() => {
        flake = fixture();
        first = evaluateAttrs(flake, "x86_64-linux", ["folded"]).get("folded") as Evaluated;
    });

    test("the evaluation names its layers in order, each with its own derivation, and builds nothing", () => {
        const layers = first.containerLayers!;
        // Five folded layers, then buildImage's own customization layer (its copyToRoot and config).
        expect(layers.map((l) => componentOf(l.drvPath))).toEqual(["base", "python", "torch", "paks", "perf", "app"]);
        for (const l of layers) {
            expect(l.drvPath).toMatch(/^\/nix\/store\/[0-9a-z]{32}-layers\.json\.drv$/);
            expect(l.outPath).toMatch(/^\/nix\/store\/[0-9a-z]{32}-layers\.json$/);
            // No IFD, no build: nothing of the image exists yet.
            expect(fs.existsSync(l.outPath)).toBe(false);
        }
        expect(new Set(layers.map((l) => l.drvPath)).size).toBe(6);
        expect(fs.existsSync(first.outPath)).toBe(false);
        expect(first.copyTo).toBeDefined();
    });

    test("after a change to layer 3, exactly layers 3 to 5 (and the image's own) have new derivations", () => {
        const spec = JSON.parse(fs.readFileSync(path.join(flake.slice(5), "layers.json"), "utf8"));
        const again = fixture((s) => { s.layers = spec.layers; s.layers[2].content += " changed"; });
        const second = evaluateAttrs(again, "x86_64-linux", ["folded"]).get("folded") as Evaluated;
        const changed = first.containerLayers!.map((l, i) => l.drvPath !== second.containerLayers![i].drvPath);
        expect(changed).toEqual([false, false, true, true, true, true]);
    });

    test("an image without layers.json in its script (the megapak fixture's nix2container layer) has none", () => {
        const ev = evaluateAttrs(`path:${path.resolve(__dirname, "../fixtures/megapak")}`, "x86_64-linux", ["layer09-sam"]).get("layer09-sam") as Evaluated;
        expect(ev.copyTo).toBeDefined();
        expect(ev.containerLayers).toBeUndefined();
    });
});
