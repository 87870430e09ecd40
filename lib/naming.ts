/**
 * The resource-name contract, written once. Every child of a layer is named from the layer's
 * id (`<id>-build`, `<id>-push`, `<id>-check-<name>`...), the stack's components have fixed
 * names, and scripts find resources by these names and the URN patterns below, never by
 * decoding names of their own.
 */
/** What a layer's children do, as the last part of their names. */
export const LAYER_CHILD_KINDS = ["build", "push", "in-registry", "check", "promote", "promote-in-registry", "retention", "signing", "sign", "sbom-paths", "sig-in-registry", "att-in-registry", "provenance"] as const;
export type LayerChildKind = (typeof LAYER_CHILD_KINDS)[number];

/**
 * A layer's child: `<id>-<kind>`, and for a check `<id>-check-<check name>` (its verdict on the
 * GPU runner `<id>-check-<check name>-verdict`, its pull `<id>-check-image`).
 */
export function childName(id: string, kind: LayerChildKind, check?: string): string {
    return check === undefined ? `${id}-${kind}` : `${id}-${kind}-${check}`;
}

/** The push of a layer's closure to a binary cache named `cache`: `<cache>-push-<id>`. */
export function cachePushName(cache: string, id: string): string {
    return `${cache}-push-${id}`;
}

/** The names the stack program (index.ts) gives its components. */
export const STACK_COMPONENTS = {
    pipeline: "megapak",
    cache: "cache",
    github: "github",
    promotion: "promote",
    retention: "retention",
    /** The registry read-back's provider (components/registryImage.ts RegistryReadBack). */
    readBack: "registry-read-back",
} as const;

/** The stack's GPU runner component, per variant (`runner-<variant>`). */
export function runnerName(variant: string): string {
    return `runner-${variant}`;
}

/** Which layer, and which kind of child, a resource name is (the longest matching layer id wins). */
export function layerChildOf(name: string, ids: readonly string[]): { id: string; step: string } | undefined {
    for (const id of [...ids].sort((a, b) => b.length - a.length)) {
        if (name === cachePushName(STACK_COMPONENTS.cache, id)) return { id, step: "cache-push" };
        for (const kind of LAYER_CHILD_KINDS) {
            if (name === childName(id, kind)) return { id, step: kind };
            if (kind === "check" && name.startsWith(childName(id, kind, "")) && /^[a-z0-9-]+$/.test(name.slice(childName(id, kind, "").length))) {
                return { id, step: name.slice(id.length + 1) };
            }
        }
    }
    return undefined;
}

/**
 * The `pulumi up --target` patterns of a chain of layers (root first) in a stack: the pipeline
 * component, and each layer's component and children. URN globs as the engine reads them
 * (`**` any text, `*` no `:`: pulumi/pulumi pkg/resource/deploy/deployment.go, UrnTargets).
 */
export function chainTargets(stack: string, project: string, chain: readonly string[]): string[] {
    const prefix = `urn:pulumi:${stack}::${project}::`;
    return [
        `${prefix}layerstack:index:ImagePipeline::${STACK_COMPONENTS.pipeline}`,
        ...chain.flatMap((id) => [`${prefix}**::${id}`, `${prefix}**::${id}-*`]),
    ];
}

/**
 * Matches the URN of every GpuRunner and of each of its children (their type chain contains
 * the component's type, `layerstack:index:GpuRunner`), in the engine's URN globs: `*` is
 * `[^:]*`, `**` is `.*` (pulumi/pulumi pkg/resource/deploy/deployment.go,
 * UrnTargets.getMatcher, v3.248.0). The runner's resources are applied with
 * `pulumi up --target <this>` (`npm run runner`, from a workstation); the CI `up` that runs on
 * the runner passes `--exclude <this>` (not --exclude-dependents: the checks that wait for the
 * preflight must still run), so it never stops, re-registers or deregisters the runner its own
 * job runs on. Excluded resources are neither updated nor deleted
 * (pkg/resource/deploy/step_generator.go, isExcludedFromUpdate and
 * determineForbiddenResourcesToDeleteFromExcludes).
 */
export const RUNNER_URN_GLOB = "**layerstack:index:GpuRunner**";
