/**
 * validateConfig: every key of a stack, validated, with the catalog composed for it. Pure (no
 * Pulumi engine), so every rule is tested directly. Each problem names its key; no value of a
 * secret key is ever echoed (RawConfig holds none).
 */
import { CheckSpec, parseCheckOverrides } from "../lib/checks";
import { raiseAll } from "../lib/errors";
import { LayerSpec } from "../lib/graph";
import { validateImagePipelineArgs } from "../components/imagePipeline";
import { catalogLayers, composeChecks } from "../layers/compose";
import { ImageConfig, flag, parseRegistryLimits, resolveAfterScheme, validateImage, wholeNumber } from "./image";
import type { RegistryLimits } from "../lib/registryLimits";
import { NixBuilders } from "../lib/builders";
import { validateBuilders } from "./builders";
import { ProductionConfig, validateProduction } from "./production";
import { SigningConfig, validateSigning } from "./signing";
import { RawConfig, key } from "./raw";

/** Everything a stack's config says, validated: the image keys, the production keys, checks and retention. */
export interface ValidatedConfig extends Omit<ImageConfig, "flake" | "registry" | "repository" | "layers" | "layerChecks">, ProductionConfig {
    /** Flake reference; relative `path:` references are made absolute. */
    readonly flake: string;
    readonly registry: string;
    readonly repository: string;
    /** The layers, parents first: `layerstack:layers`, or the megapak catalog for the stack's variant. */
    readonly layers: LayerSpec[];
    /** Where `layers` came from, for messages. */
    readonly layersSource: "catalog" | "layerstack:layers";
    /** Smoke checks per layer id: the catalog's, changed by `layerstack:checks`. Empty when `runChecks` is false. */
    readonly checks: ReadonlyMap<string, CheckSpec[]>;
    /** Immutable tags kept per layer. @default all */
    readonly keepImages?: number;
    /** @default false */
    readonly deleteImagesOnDestroy: boolean;
    /** Ask Nix what the layers' builds would do, before anything runs (`layerstack:forecast`). @default true */
    readonly forecast: boolean;
    /** Say why each layer changes, in a table at the end of every preview and up (`layerstack:explain`). @default true */
    readonly explain: boolean;
    /** What the registry refuses (`layerstack:registryLimits`). @default GHCR's for ghcr.io, else none */
    readonly registryLimits?: RegistryLimits;
    /** Nix remote builders for the layers' builds (`layerstack:nixBuilders`), the key still to be joined. @default none: this machine builds */
    readonly builders?: Omit<NixBuilders, "sshKey">;
    /** Sign every layer and attest its SBOM and provenance (`layerstack:signingKey` and friends). @default none: nothing is signed */
    readonly signing?: SigningConfig;
}

/** Validates raw config (see the top of this file). */
export function validateConfig(raw: RawConfig, ctx: { stack: string; projectDir: string }): ValidatedConfig {
    const problems: string[] = [];
    const { layers: own, layerChecks, ...image } = validateImage(raw, ctx, problems);
    const production = validateProduction(raw, image.variant, problems);
    const builders = validateBuilders(raw, problems);
    const signing = validateSigning(raw, problems);
    // A project-local file cache (`file://./.layerstack/nix-cache`, the dev stack's) is made absolute.
    if (production.cache?.kind === "nix-store" && /^file:\/\/\.\.?\//.test(production.cache.url)) {
        production.cache = { ...production.cache, url: resolveAfterScheme("file://", production.cache.url, ctx.projectDir) };
    }
    const keepImages = wholeNumber(raw.keepImages, 1, () => `${key("keepImages")}: ${JSON.stringify(raw.keepImages)} must be a whole number, at least 1 (the images a stack output points at are always kept); leave it unset to keep every image`, problems);
    const deleteImagesOnDestroy = flag(raw, "deleteImagesOnDestroy", false, problems);
    const runChecks = flag(raw, "runChecks", true, problems);
    const forecast = flag(raw, "forecast", true, problems);
    const explain = flag(raw, "explain", true, problems);
    const registryLimits = parseRegistryLimits(raw.registryLimits, problems);
    const overrides = parseCheckOverrides(raw.checks, key("checks"), problems);
    raiseAll(problems);

    // With a container image, its own layers are the stack's: the catalog is not added.
    const layersSource = own === undefined && !image.containerImage ? "catalog" : "layerstack:layers";
    const registry = image.registry!, repository = image.repository!;
    // Graph rules (unknown parent, cycle, duplicate id, an id that is no path component) and image
    // names a registry refuses: the pipeline's own rules, naming the layer.
    const layers = validateImagePipelineArgs({
        layers: own ?? (image.containerImage ? [] : catalogLayers(production.cuda)), layersSource, registry, repository, repositoryLayout: image.repositoryLayout, variant: image.variant,
    });
    // A container image is a layer of the pipeline too (ImagePipeline.plan adds it): its checks are set by its attribute.
    const checked = image.containerImage ? [...layers, { id: image.containerImage.attr, attr: image.containerImage.attr }] : layers;
    const composed = composeChecks({ layers: checked, source: layersSource, own: layerChecks, overrides, overridesKey: key("checks"), variant: production.cuda, run: runChecks });
    return {
        ...image, flake: image.flake!, registry, repository, layers, layersSource, checks: composed,
        ...(keepImages !== undefined ? { keepImages } : {}), deleteImagesOnDestroy, forecast, explain, ...(registryLimits ? { registryLimits } : {}), ...production, ...(builders ? { builders } : {}),
        ...(signing ? { signing } : {}),
    };
}
