// The layerstack program: the stack's config, as each component's args (settings/), declared in order.
// Imports run one way: index.ts -> settings/ -> components/ -> layers/ -> lib/ (README: "How it works").
import { loadSettings } from "./settings";
import { BinaryCache, GithubActions, GpuRunner, ImagePipeline, ImageRetention, RegistryReadBack, STACK_COMPONENTS, TagPromotion, runnerName } from "./layerstack";

export = async () => {
    const stack = loadSettings();

    // The registry read-back's provider before anything else, so that the engine starts its process
    // while Nix evaluates (components/registryImage.ts RegistryReadBack says why).
    const readBack = stack.pipeline.checkRegistry === false ? undefined : new RegistryReadBack(STACK_COMPONENTS.readBack);

    // Evaluation next: one `nix eval` of every layer, before any other resource is declared, so a flake
    // that does not evaluate leaves nothing behind (no cache, GitHub or runner resource), even with --skip-preview.
    const { evaluated } = await ImagePipeline.planAsync(stack.pipeline);

    // The binary cache comes first: every layer's build and push substitutes from it, and its closure goes there.
    const cache = stack.cache && new BinaryCache(STACK_COMPONENTS.cache, stack.cache);
    // Then the GitHub Actions settings and the GPU runner: production checks run on the runner, after its
    // preflight. `npm run runner` applies the runner alone; the CI `up` on the runner excludes it.
    if (stack.github) new GithubActions(STACK_COMPONENTS.github, stack.github);
    const runner = stack.runner && new GpuRunner(runnerName(stack.pipeline.variant), stack.runner);
    const checkHost = stack.pipeline.checkHost && { ...stack.pipeline.checkHost, dependsOn: runner ? [runner.preflight] : [] };
    const pipeline = new ImagePipeline(STACK_COMPONENTS.pipeline, { ...stack.pipeline, evaluated, cache, checkHost, readBack });

    // Moving tags (`<variant>-latest`), only when the stack says so and never for a pull request.
    const layers = pipeline.layerComponents;
    const promotion = stack.promotion && new TagPromotion(STACK_COMPONENTS.promotion, { ...stack.promotion, layers, readBack });
    // Old immutable tags are retired once each layer is published, checked and promoted; images deleted at destroy.
    if (stack.retention) new ImageRetention(STACK_COMPONENTS.retention, { ...stack.retention, layers, promoted: promotion?.commands, readBack });

    // The outputs: `layers` always, the others only when the stack has them (an absent export would print
    // "Undefined value (...) will not show as a stack output" on every run).
    return {
        layers: pipeline.layers,
        // Why each layer changed and what Nix was to do (layerContents, changes, forecast): the table
        // every preview and up ends with says the same (lib/changeReport.ts).
        ...pipeline.reportOutputs,
        // A nix2container image's own layers (layerstack:containerImage), by id.
        ...(stack.pipeline.containerImage && { containerLayers: pipeline.containerLayers }),
        ...(promotion && { latestTags: promotion.tags }),
        ...(cache && { binaryCache: { substituter: cache.substituter, publicKeys: cache.publicKeys } }),
        ...(runner && { gpuRunner: runner.summary }),
    };
};
