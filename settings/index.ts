/**
 * The stack's settings: this folder is the only code that reads config. `loadSettings` reads
 * every `layerstack:*` key (raw.ts), validates it (validate.ts: image.ts, production.ts, and
 * the catalog composed by layers/compose.ts) and returns each component's args (args.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { raiseAll } from "../lib/errors";
import { LayerSpec, chainOf, orderLayers } from "../lib/graph";
import { catalogLayers } from "../layers/compose";
import { parseLayers, parseNixAccessTokens } from "./image";
import { StackArgs, stackArgs } from "./args";
import { ConfigJsonEntry, NS, rawConfigFromJson, readConfig, readPlainSecret } from "./raw";
import { validateConfig } from "./validate";

export type { StackArgs, StackEnvironment } from "./args";
export { stackArgs } from "./args";
export type { ConfigJsonEntry, RawConfig, Secrets } from "./raw";
export { NS, rawConfigFromJson, readConfig } from "./raw";
export type { CacheConfig, GithubConfig, ProductionConfig, RunnerConfig } from "./production";
export { absolutizeFlake, localFlakeDir } from "./image";
export type { ValidatedConfig } from "./validate";
export { validateConfig } from "./validate";

/** Reads the `layerstack:*` keys of the current stack, validates them, and returns each component's args. */
export function loadSettings(cfg = new pulumi.Config(NS), projectDir = process.cwd(), env: NodeJS.ProcessEnv = process.env): StackArgs {
    const { raw, secrets } = readConfig(cfg);
    const validated = validateConfig(raw, { stack: pulumi.getStack(), projectDir });
    // The one secret the evaluation needs before any Output resolves (settings/raw.ts readPlainSecret).
    const nixAccessTokens = raw.hasNixAccessTokens ? parseNixAccessTokens(readPlainSecret("nixAccessTokens") ?? "") : undefined;
    return stackArgs(validated, secrets, { runnerOnly: env.LAYERSTACK_RUNNER_ONLY === "1", nixAccessTokens });
}

/**
 * A stack's layer tree (ids and parents, parents first) from `pulumi config --json`: its
 * `layerstack:layers`, read by the program's own parser, or the catalog's. What the scripts
 * (scripts/layer-chain.ts, scripts/run-table.ts) work from, instead of parsing keys of their own.
 * The ids and parents do not depend on the stack's variant (only the attributes do).
 */
export function layerTree(json: Readonly<Record<string, ConfigJsonEntry>>): LayerSpec[] {
    const raw = rawConfigFromJson(json);
    const problems: string[] = [];
    const own = raw.layers === undefined ? undefined : parseLayers(raw.layers, problems, new Map());
    raiseAll(problems);
    return orderLayers(own ?? catalogLayers(), own ? "layerstack:layers" : "catalog");
}

/** The ids of a layer's ancestors, root first, and the layer itself last; undefined for an id the tree lacks. */
export function layerChain(layers: readonly LayerSpec[], id: string): string[] | undefined {
    return layers.some((l) => l.id === id) ? chainOf(layers, id) : undefined;
}
