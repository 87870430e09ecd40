// For scripts/layer.sh: the chain of a layer (its ancestors, root first, then the layer) in
// the stack's layer tree, and the `pulumi up --target` patterns that select exactly that chain.
// The tree comes from the program's own config module (settings/ layerTree) and the patterns from
// the naming contract (lib/naming.ts): nothing here parses a key or decodes a name.
//   ts-node scripts/layer-chain.ts <stack-config.json> <stack> <layer id>
// Prints the chain on the first line (space-separated), then one target pattern a line.
import * as fs from "fs";
import { NS, layerChain, layerTree } from "../settings";
import { chainTargets } from "../lib/naming";

const [configFile, stack, id] = process.argv.slice(2);
const layers = layerTree(JSON.parse(fs.readFileSync(configFile, "utf8")));
const chain = layerChain(layers, id);
if (!chain) {
    console.error(`no layer "${id}"; the stack's layers are: ${layers.map((l) => l.id).join(", ")}`);
    process.exit(2);
}
console.log([chain.join(" "), ...chainTargets(stack, NS, chain)].join("\n"));
