// The layerstack program: read the stack's config, declare the pipeline, export the layers.
// Every resource lives in components/; the layer catalog in layers/; config rules in lib/config.ts.
import { loadSettings } from "./lib/config";
import { ImagePipeline } from "./components/imagePipeline";
import { BinaryCache } from "./components/binaryCache";
import { GithubActions } from "./components/githubActions";
import { GpuRunner } from "./components/gpuRunner";
import { TagPromotion } from "./components/tagPromotion";
import { ImageRetention } from "./components/imageRetention";
import { dockerSshOptions } from "./lib/dockerSsh";

const settings = loadSettings();

// Evaluation first: one `nix eval` of every layer, before any resource is declared, so a
// flake that does not evaluate leaves nothing behind (no cache, GitHub or runner resource),
// with or without --skip-preview.
const image = {
    flake: settings.flake,
    system: settings.system,
    layers: settings.layers,
    layersSource: settings.layersSource,
    registry: settings.registry,
    repository: settings.repository,
    // The stack's own Nix settings (layerstack:nixConfig), for the evaluation, builds and pushes.
    nixConfig: settings.nixConfig,
};
const { evaluated } = ImagePipeline.plan(image);

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
    ...image,
    evaluated,
    variant: settings.variant,
    registryAuth: settings.registryAuth,
    buildTimeoutSeconds: settings.buildTimeoutSeconds,
    checks: runnerOnly ? new Map() : settings.checks,
    // Then the cache's substituter.
    cacheNixConfig: cache?.nixConfig,
    // Production: every check in a container with the GPUs on the runner (Docker over SSH).
    checkHost: runnerOnly ? undefined : settings.checkHost && {
        dockerHost: settings.checkHost.dockerHost, dependsOn: runner ? [runner.preflight] : [],
        // An ssh:// Docker host is the runner's (lib/config.ts): the same key and pinned host key.
        sshOpts: r && settings.checkHost.dockerHost.startsWith("ssh://") ? dockerSshOptions({ hostKey: r.hostKey, privateKey: r.sshKey, agent: r.sshAgent }) : undefined,
    },
});

// Moving tags (`<variant>-latest`), only when the stack says so and never for a pull request.
const promotion = settings.promoteTags ? new TagPromotion("promote", {
    layers: pipeline.layerComponents, registry: settings.registry, variant: settings.variant, registryAuth: settings.registryAuth,
}) : undefined;

// Old immutable tags are retired after each layer is published, checked and promoted
// (`<id>-retention`), and images are deleted at destroy, only when the stack asks for either.
if (settings.keepImages !== undefined || settings.deleteImagesOnDestroy) {
    new ImageRetention("retention", {
        layers: pipeline.layerComponents, registry: settings.registry, variant: settings.variant, registryAuth: settings.registryAuth,
        keep: settings.keepImages, deleteOnDestroy: settings.deleteImagesOnDestroy, promoted: promotion?.commands,
    });
}

// Each layer's closure goes to the cache once it is built (`cache-push-<id>`).
if (cache) for (const [id, l] of pipeline.layerComponents) cache.addClosure({ id, drvPath: l.drvPath, dependsOn: [l.build] });

// The stack's outputs: `layers` always, the others only when the stack has them (an absent
// export would print "Undefined value (...) will not show as a stack output" on every run).
const outputs: Record<string, unknown> = { layers: pipeline.layers };
if (promotion) outputs.latestTags = promotion.tags;
if (cache) outputs.binaryCache = { substituter: cache.substituter, publicKeys: cache.publicKeys };
if (runner) outputs.gpuRunner = { name: runner.runnerName, labels: runner.labels, driverVersion: runner.driverVersion, gpu: runner.gpuName };
export = outputs;
