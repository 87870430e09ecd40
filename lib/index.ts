// The layerstack library: import these into any Pulumi program.
export * from "../components/nixImageLayer";
export * from "../components/imagePipeline";
export * from "../layers";
export type { LayerSpec, ImageFormat } from "./graph";
export { IMAGE_FORMATS, orderLayers, chainOf, descendantsOf } from "./graph";
export type { StackSettings } from "./config";
export { loadSettings, validateConfig } from "./config";
export type { CopyTo, Evaluated, EvalFailure, EvalResult } from "./nix";
export { evaluateAttrs } from "./nix";
export { LayerstackError } from "./errors";
