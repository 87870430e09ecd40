// The layerstack program: read the stack's config, declare the pipeline, export the layers.
// Every resource lives in components/; the layer catalog in layers/; config rules in lib/config.ts.
import { loadSettings } from "./lib/config";
import { ImagePipeline } from "./components/imagePipeline";
import { BinaryCache, substituterConfig } from "./components/binaryCache";
import { GithubActions } from "./components/githubActions";
import { GpuRunner } from "./components/gpuRunner";
import { TagPromotion } from "./components/tagPromotion";
import { dockerSshOptions } from "./lib/dockerSsh";
import { forecastLayers } from "./lib/forecast";

const settings = loadSettings();

// The binary cache comes first: every layer's build and push substitutes from it.
const c = settings.cache;
const cache = c && new BinaryCache("cache", c.kind === "cachix"
    ? { kind: "cachix", name: c.name, apiUrl: c.apiUrl, authToken: c.authToken, signingKey: c.signingKey, nixConfig: settings.nixConfig }
    : { kind: "nix-store", url: c.url, publicKey: c.publicKey, signingKey: c.signingKey, nixConfig: settings.nixConfig });

// Siblings, each only when the stack configures it. The GitHub secrets and the GPU runner
// come before the layers: production checks run on the runner, after its preflight.
// The workflow's only Actions settings are its Cachix steps' (an unset CACHIX_ENABLED is false).
if (settings.github && c?.kind === "cachix") {
    new GithubActions("github", {
        owner: settings.github.owner, repository: settings.github.repository, token: settings.github.token,
        cachix: { cacheName: c.name, authToken: c.authToken },
    });
}
// Applied with `npm run runner` (pulumi up --target RUNNER_URN_GLOB); the CI `up` on the runner excludes it.
// That script sets LAYERSTACK_RUNNER_ONLY=1: the smoke checks are not declared then, so their Docker
// provider, which the engine configures (and which pings its host) even when nothing of it is
// targeted, is not needed where `npm run runner` runs; --target leaves undeclared resources as they are.
const runnerOnly = process.env.LAYERSTACK_RUNNER_ONLY === "1";
const r = settings.runner;
const runner = r && settings.github && settings.cuda && new GpuRunner(`runner-${settings.variant}`, {
    connection: { host: r.host, port: r.port, user: r.user, hostKey: r.hostKey, privateKey: r.sshKey, agent: r.sshAgent },
    owner: settings.github.owner, repository: settings.github.repository, githubToken: settings.github.token, githubApiUrl: settings.github.apiUrl,
    variant: settings.cuda, labels: r.labels, ephemeral: r.ephemeral, jitToken: r.jitToken, allowPublicRepository: r.allowPublicRepository,
    requireDockerGpu: settings.checkHost !== undefined, minFreeDiskGb: r.minFreeDiskGb, release: r.release,
});

const pipeline = new ImagePipeline("megapak", {
    flake: settings.flake,
    system: settings.system,
    layers: settings.layers,
    layersSource: settings.layersSource,
    registry: settings.registry,
    repository: settings.repository,
    variant: settings.variant,
    registryAuth: settings.registryAuth,
    buildTimeoutSeconds: settings.buildTimeoutSeconds,
    checks: runnerOnly ? new Map() : settings.checks,
    // The stack's own Nix settings (layerstack:nixConfig), then the cache's substituter.
    nixConfig: settings.nixConfig,
    cacheNixConfig: cache?.nixConfig,
    // Nix remote builders, when the stack names some (layerstack:nixBuilders): Nix dispatches.
    builders: settings.builders,
    // Production: every check in a container with the GPUs on the runner (Docker over SSH).
    checkHost: runnerOnly ? undefined : settings.checkHost && {
        dockerHost: settings.checkHost.dockerHost, dependsOn: runner ? [runner.preflight] : [],
        // An ssh:// Docker host is the runner's (lib/config.ts): the same key and pinned host key.
        sshOpts: r && settings.checkHost.dockerHost.startsWith("ssh://") ? dockerSshOptions({ hostKey: r.hostKey, privateKey: r.sshKey, agent: r.sshAgent }) : undefined,
    },
});

export const layers = pipeline.layers;

// What realising the layers would make Nix do, per layer (build, substitute, or nothing), before
// anything runs: in the preview (a message on each layer with work) and as the `forecast` output.
export const forecast = forecastLayers([...pipeline.layerComponents].map(([id, l]) => ({ id, drvPath: l.drvPath, resource: l })),
    [settings.nixConfig, c?.kind === "nix-store" ? substituterConfig(c.url, c.publicKey ? [c.publicKey] : []) : cache?.nixConfig]);

// Moving tags (`<variant>-latest`), only when the stack says so and never for a pull request.
const promotion = settings.promoteTags ? new TagPromotion("promote", {
    layers: pipeline.layerComponents, registry: settings.registry, variant: settings.variant, registryAuth: settings.registryAuth,
}) : undefined;
export const latestTags = promotion?.tags;

// Each layer's closure goes to the cache once it is built (`cache-push-<id>`).
if (cache) for (const [id, l] of pipeline.layerComponents) cache.addClosure({ id, drvPath: l.drvPath, dependsOn: [l.build] });
export const binaryCache = cache && { substituter: cache.substituter, publicKeys: cache.publicKeys };
export const gpuRunner = runner && { name: runner.runnerName, labels: runner.labels, driverVersion: runner.driverVersion, gpu: runner.gpuName };
