/**
 * The environment fragments several scripts share, each variable named once here. Every
 * script's own environment is built by one typed function beside the script (buildEnv,
 * pushEnv, localCheckEnv, promoteEnv, cachixPushEnv, ...), from these fragments and
 * scriptEnv (bounded.ts). Secrets are marked secret here, so no caller can forget it.
 */
import * as pulumi from "@pulumi/pulumi";
import { isLoopbackRegistry } from "../reference";
import type { RegistryAuth } from "../registry";

/** A command's environment: plain strings, and Outputs (secret where they hold one). */
export type ScriptEnv = Record<string, pulumi.Input<string>>;

/** Plain HTTP for a registry on the loopback interface (any case: `LOCALHOST:5000`), as Docker does; TLS anywhere else. */
export function tlsVerify(registry: string): boolean {
    return !isLoopbackRegistry(registry);
}

/**
 * The registry a script talks to and logs in to (REGISTRY_LOGIN, lib/commands/layer.ts):
 * LAYERSTACK_REGISTRY, LAYERSTACK_TLS_VERIFY and, with credentials,
 * LAYERSTACK_REGISTRY_USERNAME and LAYERSTACK_REGISTRY_PASSWORD (secret).
 */
export function registryEnv(registry: string, auth?: RegistryAuth): ScriptEnv {
    return {
        LAYERSTACK_REGISTRY: registry,
        LAYERSTACK_TLS_VERIFY: String(tlsVerify(registry)),
        ...(auth ? { LAYERSTACK_REGISTRY_USERNAME: auth.username, LAYERSTACK_REGISTRY_PASSWORD: pulumi.secret(auth.password) } : {}),
    };
}

/** The stack's Nix settings for a script that runs Nix (WITH_NIX_CONFIG, lib/commands/cache.ts): LAYERSTACK_NIX_CONFIG when there are any. */
export function nixConfigEnv(nixConfig: pulumi.Input<string> | undefined): ScriptEnv {
    return nixConfig !== undefined ? { LAYERSTACK_NIX_CONFIG: nixConfig } : {};
}

/**
 * Nix `access-tokens` (`host=token ...`, `layerstack:nixAccessTokens`) for a script that runs Nix
 * (WITH_NIX_CONFIG): LAYERSTACK_NIX_ACCESS_TOKENS, secret.
 */
export function nixAccessTokensEnv(tokens: pulumi.Input<string> | undefined): ScriptEnv {
    return tokens !== undefined ? { LAYERSTACK_NIX_ACCESS_TOKENS: pulumi.secret(tokens) } : {};
}

/** The layer a script works on: its id (LAYERSTACK_LAYER, for messages) and derivation (LAYERSTACK_DRV_PATH). */
export function layerEnv(layer: { readonly id?: string; readonly drvPath?: string }): ScriptEnv {
    return {
        ...(layer.id !== undefined ? { LAYERSTACK_LAYER: layer.id } : {}),
        ...(layer.drvPath !== undefined ? { LAYERSTACK_DRV_PATH: layer.drvPath } : {}),
    };
}
