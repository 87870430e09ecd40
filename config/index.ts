/**
 * The stack's settings: this folder is the only code that reads config. `loadSettings` reads
 * every `layerstack:*` key (raw.ts), validates it (validate.ts: image.ts, production.ts, and
 * the catalog composed by layers/compose.ts) and returns each component's args (args.ts).
 */
import * as pulumi from "@pulumi/pulumi";
import { chainOf } from "../lib/graph";
import { StackArgs, stackArgs } from "./args";
import { ConfigJsonEntry, NS, rawConfigFromJson, readConfig } from "./raw";
import { ValidatedConfig, validateConfig } from "./validate";

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
    return stackArgs(validateConfig(raw, { stack: pulumi.getStack(), projectDir }), secrets, { runnerOnly: env.LAYERSTACK_RUNNER_ONLY === "1" });
}

/**
 * A stack's validated config from `pulumi config --json --stack <stack>`, by the same rules as
 * the program: what the scripts (scripts/layer-chain.ts, scripts/run-table.ts) read the layer
 * tree from, instead of parsing keys of their own.
 */
export function configFromJson(json: Readonly<Record<string, ConfigJsonEntry>>, stack: string, projectDir: string): ValidatedConfig {
    return validateConfig(rawConfigFromJson(json), { stack, projectDir });
}

/** The ids of a layer's ancestors, root first, and the layer itself last; undefined for an id the stack lacks. */
export function layerChain(config: ValidatedConfig, id: string): string[] | undefined {
    return config.layers.some((l) => l.id === id) ? chainOf(config.layers, id) : undefined;
}
