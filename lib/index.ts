// The layerstack library: import these into any Pulumi program.
export * from "../components/nixImageLayer";
export * from "../components/imagePipeline";
export * from "../layers";
export type { LayerSpec, ImageFormat } from "./graph";
export { IMAGE_FORMATS, orderLayers, chainOf, descendantsOf } from "./graph";
export type { StackSettings } from "./config";
export { loadSettings, validateConfig } from "./config";
export type { Evaluated } from "./nix";
export { evaluateAttrs } from "./nix";
export { LayerstackError } from "./errors";
export type { NixBuilders, BuilderMachine } from "./builders";
export { machinesText } from "./builders";
export type { LayerForecast, ForecastStatus, FetchForecast } from "./forecast";
export { forecastLayers, runForecast } from "./forecast";
