// The layerstack program: read the stack's config, declare the pipeline, export the layers.
// Every resource lives in components/; the layer catalog in layers/; config rules in lib/config.ts.
import { loadSettings } from "./lib/config";
import { ImagePipeline } from "./components/imagePipeline";
import { BinaryCache } from "./components/binaryCache";
import { GithubActions } from "./components/githubActions";
import { GpuRunner } from "./components/gpuRunner";
import { TagPromotion } from "./components/tagPromotion";
import { ImageRetention } from "./components/imageRetention";

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
};
const { evaluated } = ImagePipeline.plan(image);

// The binary cache comes first: every layer's build and push substitutes from it.
const c = settings.cache;
const cache = c && new BinaryCache("cache", c.kind === "cachix"
    ? { kind: "cachix", name: c.name, apiUrl: c.apiUrl, authToken: c.authToken }
    : { kind: "nix-store", url: c.url, publicKey: c.publicKey, signingKey: c.signingKey });

// Siblings, each only when the stack configures it. The GitHub secrets and the GPU runner
// come before the layers: production checks run on the runner, after its preflight.
const gh = settings.github && new GithubActions("github", {
    owner: settings.github.owner, repository: settings.github.repository, token: settings.github.token,
    cachix: c?.kind === "cachix" ? { cacheName: c.name, authToken: c.authToken } : undefined,
    registryToken: settings.registryAuth?.password,
});
const runner = settings.runner && gh && settings.cuda && new GpuRunner(`runner-${settings.variant}`, {
    connection: { host: settings.runner.host, port: settings.runner.port, user: settings.runner.user, privateKey: settings.runner.sshKey },
    owner: settings.github!.owner, repository: settings.github!.repository, provider: gh.provider, githubToken: settings.github!.token,
    variant: settings.cuda, labels: settings.runner.labels, ephemeral: settings.runner.ephemeral, allowPublicRepository: settings.runner.allowPublicRepository,
    requireDockerGpu: settings.checkHost !== undefined,
});

const pipeline = new ImagePipeline("megapak", {
    ...image,
    evaluated,
    variant: settings.variant,
    registryAuth: settings.registryAuth,
    buildTimeoutSeconds: settings.buildTimeoutSeconds,
    checks: settings.checks,
    nixConfig: cache ? cache.nixConfig : undefined,
    // Production: every check in a container with the GPUs on the runner (Docker over SSH).
    checkHost: settings.checkHost && { dockerHost: settings.checkHost.dockerHost, dependsOn: runner ? [runner.preflight] : [] },
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
