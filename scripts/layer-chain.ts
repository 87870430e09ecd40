// Prints the ids of a layer's ancestors and the layer itself, root first, for the stack's
// layer list (`layerstack:layers`, or the megapak catalog). Used by scripts/layer.sh.
//   ts-node scripts/layer-chain.ts <stack-config.json> <layer id>
import * as fs from "fs";
import { chainOf, orderLayers, LayerSpec } from "../lib/graph";
import { megapakLayers } from "../layers";

const [configFile, id] = process.argv.slice(2);
const config = JSON.parse(fs.readFileSync(configFile, "utf8")) as Record<string, { value?: string; objectValue?: unknown }>;
const raw = config["layerstack:layers"];
const layers: LayerSpec[] = raw
    ? orderLayers((raw.objectValue ?? JSON.parse(raw.value ?? "[]")) as LayerSpec[], "layerstack:layers").map((l) => ({ ...l, attr: l.attr ?? l.id }))
    : megapakLayers();
if (!layers.some((l) => l.id === id)) {
    console.error(`no layer "${id}"; the stack's layers are: ${layers.map((l) => l.id).join(", ")}`);
    process.exit(2);
}
console.log(chainOf(layers, id).join("\n"));
