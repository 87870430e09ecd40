/**
 * The stack's `layerstack:*` keys, named once, and how they are read: from the Pulumi engine
 * (`pulumi.Config`, in the program) or from `pulumi config --json` (the scripts). Secrets stay
 * Outputs; validation only ever learns whether one is set.
 */
import * as pulumi from "@pulumi/pulumi";

/** The config namespace: the project's name. */
export const NS = "layerstack";

/** `layerstack:<k>`, as every message names a key. */
export function key(k: string): string {
    return `${NS}:${k}`;
}

/** Keys whose value is a string. */
export const STRING_KEYS = [
    "flake", "registry", "repository", "repositoryLayout", "system", "variant", "buildTimeout", "nixConfig", "registryUsername", "runChecks",
    "cuda", "pytorch", "python", "promoteTags", "keepImages", "deleteImagesOnDestroy",
    "cache", "cachixCache", "cachixApiUrl", "cacheUrl", "cachePublicKey",
    "githubOwner", "githubRepository", "githubApiUrl",
    "runnerHost", "runnerHostKey", "runnerSshAgent", "runnerEphemeral", "allowPublicRepository", "runnerMinFreeDiskGb",
    "runnerReleaseUrl", "runnerReleaseSha256", "checksOn", "checksDockerHost",
    // A Nix builders value, or a YAML list of machine lines (which arrives as its JSON text).
    "nixBuilders", "nixBuildersUseSubstitutes", "forecast", "explain",
    // A nix2container image whose own layers are the stack's layers (ImagePipelineArgs.containerImage).
    "containerImage",
    // The cosign public key (PEM) the layers' signatures and attestations verify with (settings/signing.ts).
    "signingPublicKey",
] as const;
/** Keys whose value is a list or an object (YAML in the stack's file). */
export const OBJECT_KEYS = ["layers", "checks", "runnerLabels", "nixBuildersHostKeys", "containerLayerIds", "registryLimits"] as const;
/** Secret keys (`pulumi config set --secret`). */
export const SECRET_KEYS = ["registryPassword", "cachixAuthToken", "cacheSigningKey", "githubToken", "runnerSshKey", "runnerJitToken", "nixBuildersSshKey", "nixAccessTokens", "signingKey", "signingKeyPassword"] as const;

type StringKey = (typeof STRING_KEYS)[number];
type ObjectKey = (typeof OBJECT_KEYS)[number];
export type SecretKey = (typeof SECRET_KEYS)[number];
/** `hasCachixAuthToken` for `cachixAuthToken`. */
type Has<K extends string> = `has${Capitalize<K>}`;

/**
 * The raw values of the config keys, as strings or parsed YAML. A secret appears only as
 * whether it is set (`has<Key>`): its value is never looked at by validation.
 */
export type RawConfig = { [K in StringKey]?: string } & { [K in ObjectKey]?: unknown }
    & { hasRegistryPassword: boolean } & { [K in Exclude<SecretKey, "registryPassword"> as Has<K>]?: boolean };

/** The secret keys' values, as the engine gives them: secret Outputs. */
export type Secrets = { readonly [K in SecretKey]?: pulumi.Output<string> };

function hasKey(k: SecretKey): Has<SecretKey> {
    return `has${k[0].toUpperCase()}${k.slice(1)}` as Has<SecretKey>;
}

/** RawConfig from a lookup of each kind of key. */
function rawConfig(str: (k: StringKey) => string | undefined, obj: (k: ObjectKey) => unknown, isSet: (k: SecretKey) => boolean): RawConfig {
    const raw: Record<string, unknown> = {};
    for (const k of STRING_KEYS) raw[k] = str(k);
    for (const k of OBJECT_KEYS) raw[k] = obj(k);
    for (const k of SECRET_KEYS) raw[hasKey(k)] = isSet(k);
    return raw as RawConfig;
}

/** Reads every key of the current stack through the engine; secrets stay secret Outputs. */
export function readConfig(cfg: pulumi.Config = new pulumi.Config(NS)): { raw: RawConfig; secrets: Secrets } {
    const secrets: Partial<Record<SecretKey, pulumi.Output<string>>> = {};
    for (const k of SECRET_KEYS) {
        const v = cfg.getSecret(k);
        if (v !== undefined) secrets[k] = v;
    }
    return { raw: rawConfig((k) => cfg.get(k), (k) => cfg.getObject<unknown>(k), (k) => secrets[k] !== undefined), secrets };
}

/**
 * A secret key's plain value, for the one use that cannot wait for an Output: the program's
 * evaluation, which runs synchronously before any resource is declared (ImagePipeline.plan).
 * It stays in this process's memory and reaches only the `nix` child's environment
 * (NIX_CONFIG); everything declared with it gets the secret Output instead. (Config.get would
 * give the same value, with a warning that the key is a secret.)
 */
export function readPlainSecret(k: SecretKey): string | undefined {
    return pulumi.runtime.getConfig(key(k));
}

/** One key of `pulumi config --json`: a value (objects also as objectValue), or a secret without it. */
export interface ConfigJsonEntry {
    readonly value?: string;
    readonly objectValue?: unknown;
    readonly secret?: boolean;
}

/** RawConfig from `pulumi config --json --stack <stack>` (what the scripts read); no secret's value is needed. */
export function rawConfigFromJson(json: Readonly<Record<string, ConfigJsonEntry>>): RawConfig {
    const entry = (k: string) => json[key(k)];
    return rawConfig(
        (k) => entry(k)?.value,
        (k) => { const e = entry(k); return e === undefined ? undefined : e.objectValue ?? (e.value === undefined ? undefined : JSON.parse(e.value)); },
        (k) => entry(k) !== undefined,
    );
}
