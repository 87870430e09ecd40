/**
 * A nix2container image's own layers, read from the one evaluation, without building anything.
 *
 * nix2container's buildImage (github:nlewo/nix2container default.nix) makes the image with a
 * `runCommandLocal "image-<name>.json"` whose script runs `nix2container image $out ...
 * ${layerPaths}`, where layerPaths is `<layer>/layers.json` for each of `nestedLayers ++ layers`
 * and then the image's own customization layer (its copyToRoot and config). Each buildLayer's
 * output is a directory holding layers.json (`runCommandLocal "layers.json"`), and its
 * derivation is an input of the image's: the script's string context names it.
 *
 * So the evaluation (lib/nix.ts evalExpression) gives, for an attribute with a `copyTo` and a
 * `buildCommand`, the layers.json paths in the order the script names them, and the input
 * derivations of that script (`builtins.getContext`). Which derivation makes which output is
 * in each derivation file, which the evaluation has just written to the store: this module
 * reads them there (a file read, no second Nix call; pure evaluation may not read store paths
 * itself). A layer folded with `layers = priorLayers` is named again in every later layer's
 * nestedLayers: the first mention gives its place.
 */
import * as fs from "fs";

/**
 * The Nix function (of a package) the evaluation applies to an attribute that has `copyTo`:
 * `{ n2cLayers = [<out>/layers.json ...]; n2cInputs = [<drv> ...]; }` when its script names
 * layers.json files (a nix2container image), `{ }` otherwise.
 */
export const N2C_LAYERS_NIX = `p: let
      cmd = p.drvAttrs.buildCommand or "";
      found = builtins.filter builtins.isList (builtins.split "(/nix/store/[0-9a-z]{32}-[^/ \\n\\t\\"';]+/layers\\\\.json)" (builtins.unsafeDiscardStringContext cmd));
    in if found == [ ] then { } else { n2cLayers = map builtins.head found; n2cInputs = builtins.attrNames (builtins.getContext cmd); }`;

/** One layer of a nix2container image: its layers.json derivation, in the image's order. */
export interface ContainerLayer {
    /** The buildLayer derivation (`<hash>-layers.json.drv`): what a build of this layer realises. */
    readonly drvPath: string;
    /** Its output, the directory holding layers.json. */
    readonly outPath: string;
}

/** A derivation file's outputs (ATerm `Derive([("out","/nix/store/...","",""),...],...`). */
export function derivationOutputs(aterm: string): Map<string, string> {
    const m = /^Derive\(\[((?:\("[^"]*","[^"]*","[^"]*","[^"]*"\),?)*)\]/.exec(aterm);
    const out = new Map<string, string>();
    if (!m) return out;
    for (const o of m[1].matchAll(/\("([^"]*)","([^"]*)","[^"]*","[^"]*"\)/g)) out.set(o[1], o[2]);
    return out;
}

/**
 * The image's layers, in order, each with its derivation: `layersJson` as the image's script
 * names them (duplicates from nestedLayers dropped, first mention kept), `inputs` the script's
 * input derivations. `readDrv` reads a derivation file (the store's, by default). Throws when
 * a named layers.json has no input derivation that makes it.
 */
export function containerLayers(layersJson: readonly string[], inputs: readonly string[], readDrv: (drv: string) => string = (d) => fs.readFileSync(d, "utf8")): ContainerLayer[] {
    const outs = [...new Set(layersJson.map((p) => p.replace(/\/layers\.json$/, "")))];
    const byOut = new Map<string, string>();
    for (const drv of inputs.filter((d) => d.endsWith("-layers.json.drv"))) {
        for (const path of derivationOutputs(readDrv(drv)).values()) byOut.set(path, drv);
    }
    return outs.map((outPath) => {
        const drvPath = byOut.get(outPath);
        if (!drvPath) throw new Error(`nix2container image: no input derivation makes ${outPath}/layers.json`);
        return { drvPath, outPath };
    });
}
