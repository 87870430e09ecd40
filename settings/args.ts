/**
 * The stack's config turned into each component's args, whole: index.ts hands them over
 * without copying a field. Pure but for the secrets, which stay secret Outputs throughout.
 */
import { BinaryCacheArgs } from "../components/binaryCache";
import { GithubActionsArgs } from "../components/githubActions";
import { GpuRunnerArgs } from "../components/gpuRunner";
import { ImagePipelineArgs } from "../components/imagePipeline";
import { ImageRetentionArgs } from "../components/imageRetention";
import { TagPromotionArgs } from "../components/tagPromotion";
import { Secrets } from "./raw";
import { ValidatedConfig } from "./validate";

/** What the stack declares, each component's args as the component takes them; a sibling only when the stack configures it. */
export interface StackArgs {
    /** The layers: always. `checkHost.dependsOn` (the runner's preflight) and `cache` are the program's to join. */
    readonly pipeline: ImagePipelineArgs & { readonly variant: string };
    /** The binary cache (`layerstack:cache`). */
    readonly cache?: BinaryCacheArgs;
    /** The repository's Actions secret and variables: with a GitHub repository and a Cachix cache. */
    readonly github?: GithubActionsArgs;
    /** The GPU runner (`layerstack:runnerHost`). */
    readonly runner?: GpuRunnerArgs;
    /** Moving tags (`layerstack:promoteTags`); the layers are the pipeline's. */
    readonly promotion?: Omit<TagPromotionArgs, "layers">;
    /** Retention (`layerstack:keepImages`, `deleteImagesOnDestroy`); the layers and promotions are the program's. */
    readonly retention?: Omit<ImageRetentionArgs, "layers" | "promoted">;
}

/** What the program's environment says. */
export interface StackEnvironment {
    /**
     * `npm run runner` (LAYERSTACK_RUNNER_ONLY=1) applies the runner alone, with `--target`: the
     * smoke checks are then not declared, so their Docker provider, which the engine configures
     * (and which pings its host) even when nothing of it is targeted, is not needed where it runs;
     * `--target` leaves undeclared resources as they are. @default false
     */
    readonly runnerOnly?: boolean;
    /** `layerstack:nixAccessTokens`, validated, as plain text (ImagePipelineArgs.nixAccessTokens). @default none */
    readonly nixAccessTokens?: string;
}

/** Each component's args from the validated config and the secrets. */
export function stackArgs(v: ValidatedConfig, secrets: Secrets, env: StackEnvironment = {}): StackArgs {
    const registryAuth = v.auth && secrets.registryPassword ? { username: v.auth.username, password: secrets.registryPassword } : undefined;
    const r = v.runner;
    const access = r && { hostKey: r.hostKey, privateKey: secrets.runnerSshKey, agent: r.sshAgent };
    const pipeline: StackArgs["pipeline"] = {
        flake: v.flake, system: v.system, layers: v.layers, layersSource: v.layersSource, registry: v.registry, repository: v.repository,
        repositoryLayout: v.repositoryLayout, variant: v.variant, ...(v.containerImage ? { containerImage: v.containerImage } : {}), registryAuth, buildTimeoutSeconds: v.buildTimeoutSeconds, nixConfig: v.nixConfig, forecast: v.forecast,
        explain: v.explain, ...(v.registryLimits ? { registryLimits: v.registryLimits } : {}),
        checks: env.runnerOnly ? new Map() : v.checks,
        ...(env.nixAccessTokens ? { nixAccessTokens: env.nixAccessTokens } : {}),
        // Nix remote builders (`layerstack:nixBuilders`): Nix dispatches the layers' builds to them.
        ...(v.builders ? { builders: { ...v.builders, sshKey: secrets.nixBuildersSshKey! } } : {}),
        // cosign signs every layer and attests its SBOM and provenance (`layerstack:signingKey`).
        ...(v.signing ? { signing: { privateKey: secrets.signingKey!, password: secrets.signingKeyPassword!, publicKey: v.signing.publicKey } } : {}),
        // Production: every check in a container with the GPUs on the runner; an ssh:// Docker host is
        // the runner's (settings/production.ts), with the same key and pinned host key.
        checkHost: env.runnerOnly || !v.checkHost ? undefined : {
            dockerHost: v.checkHost.dockerHost, ...(access && v.checkHost.dockerHost.startsWith("ssh://") ? { ssh: access } : {}),
        },
    };
    const c = v.cache;
    const cache: BinaryCacheArgs | undefined = c && (c.kind === "cachix"
        ? { ...c, authToken: secrets.cachixAuthToken!, signingKey: secrets.cacheSigningKey, nixConfig: v.nixConfig }
        : { ...c, signingKey: secrets.cacheSigningKey, nixConfig: v.nixConfig });
    const g = v.github && { owner: v.github.owner, repository: v.github.repository, token: secrets.githubToken! };
    return {
        pipeline,
        ...(cache ? { cache } : {}),
        // The workflow's only Actions settings are its Cachix steps' (an unset CACHIX_ENABLED is false).
        // Each name carries the variant (CACHIX_ENABLED_CU130): two stacks on one repository own their own.
        ...(g && c?.kind === "cachix" ? { github: { ...g, variant: v.variant, cachix: { cacheName: c.name, authToken: secrets.cachixAuthToken! } } } : {}),
        ...(r && g && v.cuda ? {
            runner: {
                connection: { host: r.host, port: r.port, user: r.user, hostKey: r.hostKey, privateKey: secrets.runnerSshKey, agent: r.sshAgent },
                owner: g.owner, repository: g.repository, githubToken: g.token, githubApiUrl: v.github!.apiUrl,
                variant: v.cuda, labels: r.labels, ephemeral: r.ephemeral, jitToken: secrets.runnerJitToken, allowPublicRepository: r.allowPublicRepository,
                requireDockerGpu: v.checkHost !== undefined, minFreeDiskGb: r.minFreeDiskGb, release: r.release,
            },
        } : {}),
        ...(v.promoteTags ? { promotion: { registry: v.registry, variant: v.variant, registryAuth } } : {}),
        ...(v.keepImages !== undefined || v.deleteImagesOnDestroy ? {
            retention: { registry: v.registry, variant: v.variant, registryAuth, keep: v.keepImages, deleteOnDestroy: v.deleteImagesOnDestroy },
        } : {}),
    };
}
