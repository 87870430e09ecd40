// The layerstack program: read the stack's config, declare the pipeline, export the layers.
// Every resource lives in components/; the layer catalog in layers/; config rules in lib/config.ts.
import { loadSettings } from "./lib/config";
import { ImagePipeline } from "./components/imagePipeline";

const settings = loadSettings();

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
    checks: settings.checks,
});

export const layers = pipeline.layers;
