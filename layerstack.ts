// The layerstack library (the package's entry, `import ... from "layerstack"`): every component
// with its args, the rules and helpers they are built on, the megapak catalog, and the stack's
// settings (settings/) for a program that wants the whole stack as this project's index.ts does.

// Components (components/): one ComponentResource per file.
export * from "./components/imagePipeline";
export * from "./components/nixImageLayer";
export * from "./components/binaryCache";
export * from "./components/githubActions";
export * from "./components/gpuRunner";
export * from "./components/tagPromotion";
export * from "./components/imageRetention";
export * from "./components/registryImage";
export * from "./components/layerChecks";
export * from "./components/runnerChecks";
export * from "./components/layerSigning";
export * from "./components/signingRecord";

// The stack's settings (settings/): layerstack:* keys to component args.
export { loadSettings, validateConfig, stackArgs, layerTree, layerChain } from "./settings";
export type { StackArgs, StackEnvironment, RawConfig, Secrets, ValidatedConfig } from "./settings";

// The megapak catalog (layers/).
export * from "./layers";

// Library code (lib/).
export type { LayerSpec, ImageFormat } from "./lib/graph";
export { IMAGE_FORMATS, LAYER_ID, orderLayers, chainOf, descendantsOf } from "./lib/graph";
export type { CheckContext, CheckGate, CheckOverride, CheckSpec } from "./lib/checks";
export { applyOverrides } from "./lib/checks";
export type { CopyTo, Evaluated, EvalFailure, EvalResult } from "./lib/nix";
export { evaluateAttrs } from "./lib/nix";
export type { RegistryAuth } from "./lib/registry";
export type { DockerSshAccess } from "./lib/dockerSsh";
export type { CudaVariant } from "./lib/variants";
export { CUDA_VARIANTS, findVariant, resolveVariant } from "./lib/variants";
export * from "./lib/defaults";
export * from "./lib/naming";
export { LayerstackError } from "./lib/errors";
export type { NixBuilders, BuilderMachine } from "./lib/builders";
export { machinesText } from "./lib/builders";
export type { LayerForecast, ForecastStatus, FetchForecast, ForecastLayer } from "./lib/forecast";
export { forecastLayers, runForecast } from "./lib/forecast";
export type { SigningKey } from "./lib/commands/sign";
export { attachmentTag, attachmentTags } from "./lib/commands/sign";
export type { SbomSubject, StorePathInfo } from "./lib/sbom";
export { layerSbom, sbomStorePaths } from "./lib/sbom";
export type { FlakeMetadata, ProvenanceInput } from "./lib/provenance";
export { layerProvenance } from "./lib/provenance";
