import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { NixBuilders } from "../lib/builders";
import { CheckSpec } from "../lib/checks";
import { DEFAULT_SYSTEM, defaultVariant } from "../lib/defaults";
import { DockerSshAccess, dockerSshOptions } from "../lib/dockerSsh";
import { LayerstackError, raiseAll } from "../lib/errors";
import { LAYER_ID, LayerSpec, orderLayers } from "../lib/graph";
import { RepositoryLayout, layerPlace, tagProblem } from "../lib/layout";
import { CHANGES_OUTPUT, CONTENTS_OUTPUT, FORECAST_OUTPUT, LastUpdate, changeReport, contentsOf, lastUpdate } from "../lib/changeReport";
import { LayerContents } from "../lib/contents";
import { LayerForecast, forecastLayers } from "../lib/forecast";
import { ReportRow } from "../lib/previewReport";
import { RegistryLimits, hasLimits, limitsFor } from "../lib/registryLimits";
import { EvalResult, Evaluated, evaluateAttrs, evaluateAttrsAsync, flakeMetadata, isEvalFailure, joinNixConfig, joinNixConfigText } from "../lib/nix";
import { SigningKey } from "../lib/commands";
import * as os from "os";
import { checkCacheTrust } from "../lib/nixTrust";
import { nameProblem } from "../lib/reference";
import { RegistryAuth } from "../lib/registry";
import { BinaryCache, substituterConfig } from "./binaryCache";
import { ContainerLayer } from "./containerLayer";
import { CheckRunner, NixImageLayer } from "./nixImageLayer";

export interface ImagePipelineArgs {
    /**
     * Flake reference the layers are read from.
     * @example "path:/abs/dir", "github:owner/repo", "git+https://example.com/repo"
     */
    readonly flake: string;
    /** Nix system whose `packages.<system>` the layers are read from. @default DEFAULT_SYSTEM ("x86_64-linux") */
    readonly system?: string;
    /** The layer tree; each layer has at most one parent. In any order: the pipeline orders them, parents first. */
    readonly layers: readonly LayerSpec[];
    /** Names the layer list in error messages. @default "layers" */
    readonly layersSource?: string;
    /** Registry `host[:port]`; loopback registries are reached over plain HTTP, others over TLS. @example "ghcr.io" */
    readonly registry: string;
    /**
     * Repository path prefix; layer `<id>` goes to `<registry>/<repository>/<id>`, or with
     * `repositoryLayout: "single"` every layer to `<registry>/<repository>`. @example "owner/megapak"
     */
    readonly repository: string;
    /**
     * `"per-layer"`: a repository per layer, tags `<variant>-<drv hash>`. `"single"`: every layer
     * in `repository`, tags `<variant>-<drv hash>-<id>` (lib/layout.ts). @default "per-layer"
     */
    readonly repositoryLayout?: RepositoryLayout;
    /** Starts every tag (`<variant>-<drv hash>`). @default the stack name */
    readonly variant?: string;
    /** Registry credentials; the password must be a secret Output. @default anonymous */
    readonly registryAuth?: RegistryAuth;
    /** Seconds each layer's build may take (NixImageLayerArgs.buildTimeoutSeconds). @default DEFAULT_TIMEOUTS.build (6 hours) */
    readonly buildTimeoutSeconds?: number;
    /**
     * The evaluation of the layers' attributes, if the caller already has it (`ImagePipeline.plan`).
     * @default one `nix eval` of all layers' attributes, run by this constructor
     */
    readonly evaluated?: ReadonlyMap<string, EvalResult>;
    /** Smoke checks per layer id. @default none */
    readonly checks?: ReadonlyMap<string, readonly CheckSpec[]>;
    /**
     * Run the checks on the GPU runner: a Docker provider (`<name>-check-host`) on this host,
     * pulling with the registry credentials. @default the checks run on this machine
     */
    readonly checkHost?: CheckHostArgs;
    /**
     * nix.conf lines every Nix command of the pipeline runs with, its evaluation included, in
     * front of the caller's own NIX_CONFIG (`layerstack:nixConfig`). @default none (the
     * system's Nix as it is)
     */
    readonly nixConfig?: string;
    /**
     * Nix `access-tokens` (`host=token ...`, whitespace-separated) for private flake inputs
     * (`layerstack:nixAccessTokens`): the evaluation and every build get them as
     * `extra-access-tokens`. Plain text here, because the evaluation runs before any Output
     * resolves: it stays in memory and reaches Nix only through its environment; the builds
     * get it as a secret. @default none
     */
    readonly nixAccessTokens?: string;
    /**
     * A binary cache: every build and push substitutes from it (its `nixConfig`, after the
     * pipeline's own), and each layer's closure is pushed to it once built (`<cache>-push-<id>`).
     * @default none
     */
    readonly cache?: BinaryCache;
    /** Read every pushed tag back from the registry (NixImageLayerArgs.checkRegistry). @default true */
    readonly checkRegistry?: boolean;
    /**
     * The provider of the registry read-back (components/registryImage.ts RegistryReadBack), given
     * to each RegistryImage alone. Not as a component's `providers`: the SDK registers a component
     * only once every provider in its `providers` is registered (@pulumi/pulumi runtime/resource.ts
     * prepareResource), i.e. once the engine has started the provider's process, so every child
     * (the builds too) waited about 1.5 s for it. @default the engine's default provider
     */
    readonly readBack?: pulumi.ProviderResource;
    /** Nix remote builders for every layer's build (lib/builders.ts). @default none: this machine builds */
    readonly builders?: NixBuilders;
    /**
     * Ask Nix, before anything is built, what realising the layers would do (lib/forecast.ts):
     * the derivations each would build and the paths it would fetch, with their sizes. Shown in
     * the preview on each layer with work, and as `forecast`. @default true
     */
    readonly forecast?: boolean;
    /** A nix2container image whose own layers are layers of the pipeline (ContainerImageSpec). @default none */
    readonly containerImage?: ContainerImageSpec;
    /**
     * Say why each layer changes (lib/contents.ts, lib/changeReport.ts): every preview and up
     * ends with a table of the layers, their reasons, the forecast's counts and the bytes to
     * upload, and the stack keeps each layer's contents (`layerContents`) to compare the next
     * run with, read back through a StackReference to this stack. @default true
     */
    readonly explain?: boolean;
    /**
     * What the registry refuses (lib/registryLimits.ts): checked against the table's estimates
     * before anything is built, and by each push before it uploads. @default GHCR's where the
     * registry is ghcr.io, none otherwise
     */
    readonly registryLimits?: RegistryLimits;
    /**
     * Sign every layer's pushed digest with cosign and attest its SBOM (CycloneDX, from the store
     * paths of its own blob) and provenance (SLSA v1), after its push and checks and before any
     * moving tag moves (components/layerSigning.ts). The private key and its password must be
     * secret Outputs. @default nothing is signed
     */
    readonly signing?: SigningKey;
}

/** What a run says of one layer (the `changes` stack output, per layer id). */
export type LayerChange = Omit<ReportRow, "id">;

/**
 * A nix2container image whose own layers become the pipeline's layers (lib/nix2container.ts):
 * one ContainerLayer per buildLayer of the image, in its order, each on the one before, found
 * in the pipeline's one evaluation. The image itself is a layer of the pipeline like the
 * others (`id`), published once by its own copyTo.
 */
export interface ContainerImageSpec {
    /** The image's attribute in `packages.<system>` (a nix2container buildImage). */
    readonly attr: string;
    /** The image's layer id: its component and repository. @default attr */
    readonly id?: string;
    /**
     * The ids of its layers, in the image's order; the last is buildImage's own customization
     * layer (its copyToRoot and config). @default by position: `<id>-layer01`, `<id>-layer02`, ...
     */
    readonly layerIds?: readonly string[];
}

/**
 * Each layer's contents (lib/changeReport.ts contentsOf); undefined, with a warning, when the
 * .drv files cannot be read here (a store that is not this machine's), which leaves the
 * preview without its "why", as a failed forecast leaves it without the forecast.
 */
function readContents(layers: { id: string; parent?: string; drvPath: string }[]): Record<string, LayerContents> | undefined {
    try {
        return contentsOf(layers);
    } catch (e) {
        pulumi.log.warn(`why: reading the layers' derivations failed, so this preview does not say why each layer changes: ${(e as Error).message}`);
        return undefined;
    }
}

/** The ids a container image's layers get when none are given: `<id>-layer01`, ... by position. */
export function containerLayerIds(id: string, count: number): string[] {
    return Array.from({ length: count }, (_, i) => `${id}-layer${String(i + 1).padStart(2, "0")}`);
}

/** What the stack exports per container layer (`pulumi stack output --json containerLayers`). */
export interface ContainerLayerOutputs {
    image: string;
    position: number;
    parent?: string;
    drvPath: string;
    outPath: string;
    blobs: string[];
    ownBlobSize: number;
}

/** Where the checks run when they run on the GPU runner. */
export interface CheckHostArgs {
    /**
     * The Docker host. @example "ssh://ci@gpu1.example.com:2222", "unix:///var/run/docker.sock"
     * (when `up` runs on the runner), "tcp://gpu2:2376"
     */
    readonly dockerHost: string;
    /** What every image pull waits for, e.g. the runner's preflight. @default none */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
    /**
     * For an `ssh://` host: the runner's pinned host key and its key (or agent), as the runner's
     * own steps use them (lib/dockerSsh.ts). @default BatchMode and a connection timeout only
     */
    readonly ssh?: DockerSshAccess;
}

/** The ssh options of an `ssh://` Docker host without a pinned key: never prompt, fail fast. */
const DEFAULT_DOCKER_SSH_OPTS = ["-o", "BatchMode=yes", "-o", "ConnectTimeout=30"];

/**
 * An ImagePipeline's own rules, checked before anything is evaluated or declared (a library
 * user gets them too; the stack's config runs them as well, naming `layersSource`): the
 * layers form a forest and every image name is one a registry accepts. Returns the layers
 * parents first: the one place the layer order is worked out.
 */
export function validateImagePipelineArgs(args: Pick<ImagePipelineArgs, "layers" | "layersSource" | "registry" | "repository" | "repositoryLayout" | "variant">): LayerSpec[] {
    const source = args.layersSource ?? "layers";
    const ordered = orderLayers(args.layers, source);
    raiseAll(ordered.flatMap((l) => {
        const place = layerPlace(args.repositoryLayout, args.repository, l.id);
        const p = nameProblem(args.registry, place.repositoryPath) ?? (args.variant !== undefined ? tagProblem(args.variant, place) : undefined);
        return p ? [`${source}: layer "${l.id}": ${p}`] : [];
    }));
    return ordered;
}

/** What the stack exports per layer (`pulumi stack output --json layers`). */
export interface LayerOutputs {
    attr: string;
    parent?: string;
    drvPath: string;
    outPath: string;
    tag: string;
    repository: string;
    digest: string;
    imageRef: string;
    ownBlobSize: number;
    /** Bytes of its config blob and its manifest, and the layers of its image, as pushed. */
    configSize: number;
    manifestSize: number;
    layerCount: number;
}

/**
 * A tree of image layers built from one flake and published to one registry. Evaluates
 * every layer's drvPath in a single `nix eval`, then declares one NixImageLayer per layer.
 * Layer components are named by their layer ids (with children `<id>-build`, `<id>-push`).
 */
export class ImagePipeline extends pulumi.ComponentResource {
    public readonly layerComponents: ReadonlyMap<string, NixImageLayer>;
    /** Per-layer outputs keyed by layer id. */
    public readonly layers: pulumi.Output<Record<string, LayerOutputs>>;
    /** What realising each layer would make Nix do (build, substitute, or nothing), keyed by layer id; undefined when off or when Nix could not tell. */
    public readonly forecast?: pulumi.Output<Record<string, LayerForecast> | undefined>;
    /** The container image's own layers (`containerImage`), by id, in its order. */
    public readonly containerLayerComponents: ReadonlyMap<string, ContainerLayer>;
    /** Per container layer outputs keyed by id; empty without `containerImage`. */
    public readonly containerLayers: pulumi.Output<Record<string, ContainerLayerOutputs>>;
    /**
     * The stack outputs of the report (`explain`): `layerContents` (what each layer holds, to
     * compare the next run with), `changes` (per layer: why it changed, the forecast's counts,
     * the bytes to upload) and `forecast` (what Nix was to do, with the paths). An `up` exports
     * what it found; a preview exports the last update's values again, so that it prints no diff
     * of them (its table says what it would change). Empty without `explain`.
     */
    public readonly reportOutputs: Record<string, pulumi.Output<unknown>>;

    constructor(name: string, args: ImagePipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate and evaluate before registering anything: bad input leaves no resource behind.
        const { ordered, evaluated, container } = ImagePipeline.plan(args);
        super("layerstack:index:ImagePipeline", name, {}, opts);

        const checkRunner = args.checkHost && this.checkRunner(name, args.checkHost, args);
        const nixConfig = joinNixConfig(args.nixConfig, args.cache?.nixConfig);
        const limits = limitsFor(args.registry, args.registryLimits);
        const explain = args.explain !== false;
        const last: pulumi.Output<LastUpdate> | undefined = explain ? lastUpdate(this) : undefined;
        // What each layer holds, from the .drv files the evaluation wrote (no Nix process).
        const contents = explain ? readContents(ordered.map((l) => ({ id: l.id, parent: l.parent, drvPath: (evaluated.get(l.attr) as Evaluated).drvPath }))) : undefined;
        // Asked once for all layers, before anything runs (lib/forecast.ts). With a nix-store
        // cache its settings are known now and the forecast runs at once; a Cachix cache's once
        // its info is read.
        const forecast = args.forecast === false ? undefined : forecastLayers(
            ordered.map((l) => ({ id: l.id, drvPath: (evaluated.get(l.attr) as Evaluated).drvPath })),
            [args.nixConfig, args.cache ? args.cache.knownNixConfig ?? args.cache.nixConfig : undefined]);
        // The table, and the registry's limits checked against it: every build waits for it.
        const report = contents && last ? changeReport({ layers: ordered, contents, last, forecast, limits }) : undefined;
        // What every layer's provenance records beyond the layer: the flake locked (one
        // `nix flake metadata` per run), the stack, and where the builds run.
        const signing = args.signing && {
            key: args.signing,
            provenance: {
                stack: pulumi.getStack(), project: pulumi.getProject(), flake: args.flake,
                flakeMetadata: pulumi.output(flakeMetadata(args.flake, args.nixConfig, args.nixAccessTokens)),
                system: args.system ?? DEFAULT_SYSTEM, hostname: os.hostname(),
                ...(args.builders ? { builders: args.builders.machines.map((m) => m.uri) } : {}),
            },
        };
        const components = new Map<string, NixImageLayer>();
        for (const l of ordered) {
            const ev = evaluated.get(l.attr) as Evaluated;
            const layer = new NixImageLayer(l.id, {
                attr: l.attr,
                drvPath: ev.drvPath,
                outPath: ev.outPath,
                format: l.format,
                // A declared format overrides the detection, copyTo included.
                copyTo: l.format ? undefined : ev.copyTo,
                registry: args.registry,
                repository: args.repository,
                repositoryLayout: args.repositoryLayout,
                variant: args.variant ?? defaultVariant(pulumi.getStack()),
                parent: l.parent ? components.get(l.parent) : undefined,
                registryAuth: args.registryAuth,
                buildTimeoutSeconds: args.buildTimeoutSeconds,
                checks: args.checks?.get(l.id),
                checkRunner,
                nixConfig,
                netrc: args.cache?.netrc,
                checkRegistry: args.checkRegistry,
                readBack: args.readBack,
                builders: args.builders,
                ...(args.nixAccessTokens ? { nixAccessTokens: pulumi.secret(args.nixAccessTokens) } : {}),
                // Only with limits to check: otherwise no build waits for anything.
                ...(report && hasLimits(limits) ? { startAfter: report } : {}),
                ...(limits.maxBlobBytes !== undefined && !limits.allowOverLimits ? { maxBlobBytes: limits.maxBlobBytes } : {}),
                ...(signing ? { signing } : {}),
            }, { parent: this });
            components.set(l.id, layer);
            // Each layer's closure goes to the cache once it is built (`<cache>-push-<id>`).
            args.cache?.addClosure({ id: l.id, drvPath: layer.drvPath, dependsOn: [layer.build] });
        }
        this.layerComponents = components;
        // What realising the layers would make Nix do, per layer, asked once for all of them
        // before anything runs (lib/forecast.ts). With a nix-store cache its settings are known
        // now and the forecast runs at once; a Cachix cache's once its info is read.
        // A cache the Nix daemon ignores (this user is not trusted, the daemon does not list it)
        // is said once, on the cache, naming the daemon settings: Nix itself only warns per command.
        if (args.cache) {
            const cache = args.cache;
            pulumi.all([cache.substituter, cache.publicKeys]).apply(([url, keys]) => {
                const problem = checkCacheTrust(url, keys, joinNixConfigText(args.nixConfig, substituterConfig(url, keys)));
                if (problem) pulumi.log.warn(problem, cache);
            });
        }
        this.forecast = forecast?.apply((f) => f?.layers);
        const fresh: Record<string, pulumi.Output<unknown>> = {
            ...(report && contents ? {
                [CONTENTS_OUTPUT]: pulumi.output(contents),
                [CHANGES_OUTPUT]: report.apply((r) => Object.fromEntries(r.rows.map(({ id, ...row }): [string, LayerChange] => [id, row]))),
            } : {}),
            ...(this.forecast ? { [FORECAST_OUTPUT]: this.forecast.apply((f) => f ?? {}) } : {}),
        };
        const kept: Record<string, keyof LastUpdate> = { [CONTENTS_OUTPUT]: "contents", [CHANGES_OUTPUT]: "changes", [FORECAST_OUTPUT]: "forecast" };
        this.reportOutputs = !pulumi.runtime.isDryRun() || !last ? fresh
            : Object.fromEntries(Object.keys(fresh).map((k) => [k, last.apply((u) => u[kept[k]] ?? {})]));
        const entries = ordered.map((l) => {
            const c = components.get(l.id)!;
            // A layer never pushed (outside `--target`) is left out.
            return pulumi.all([c.digest, c.imageRef, c.ownBlobSize, c.configSize, c.manifestSize, c.blobs]).apply(([digest, imageRef, ownBlobSize, configSize, manifestSize, blobs]): [string, LayerOutputs] | undefined =>
                digest === undefined || imageRef === undefined || ownBlobSize === undefined ? undefined : [l.id, {
                    attr: c.attr, ...(l.parent ? { parent: l.parent } : {}), drvPath: c.drvPath, outPath: c.outPath, tag: c.tag,
                    repository: c.repositoryUrl, digest, imageRef, ownBlobSize,
                    configSize: configSize ?? 0, manifestSize: manifestSize ?? 0, layerCount: blobs?.length ?? 0,
                }]);
        });
        this.layers = pulumi.all(entries).apply((es) => Object.fromEntries(es.filter((e): e is [string, LayerOutputs] => e !== undefined)));

        // The container image's own layers: built one by one (each its own derivation), published
        // together by the image's push (its copyTo): the image is a layer of `components` above.
        const containerComponents = new Map<string, ContainerLayer>();
        let prior: ContainerLayer | undefined;
        for (const [i, l] of (container?.layers ?? []).entries()) {
            prior = new ContainerLayer(l.id, {
                drvPath: l.drvPath, outPath: l.outPath, position: i + 1, parent: prior,
                buildTimeoutSeconds: args.buildTimeoutSeconds, nixConfig, builders: args.builders,
            }, { parent: this });
            containerComponents.set(l.id, prior);
        }
        this.containerLayerComponents = containerComponents;
        this.containerLayers = pulumi.all([...containerComponents].map(([id, c]) => pulumi.all([c.blobs, c.ownBlobSize]).apply(([blobs, size]): [string, ContainerLayerOutputs] | undefined =>
            blobs === undefined || size === undefined ? undefined : [id, {
                image: container!.imageId, position: c.position, ...(c.parent ? { parent: c.parent.layerName } : {}),
                drvPath: c.drvPath, outPath: c.outPath, blobs, ownBlobSize: size,
            }]))).apply((es) => Object.fromEntries(es.filter((e): e is [string, ContainerLayerOutputs] => e !== undefined)));
        this.registerOutputs({ layers: this.layers, containerLayers: this.containerLayers, ...this.reportOutputs });
    }

    /**
     * Orders the layers and evaluates their attributes (one `nix eval`), failing with a
     * message that names the layer when the graph is not a forest, an image name is not one a
     * registry accepts, or an attribute is missing or does not evaluate. It registers nothing,
     * so a program can call it before declaring any resource.
     */
    static plan(args: ImagePipelineArgs): PipelinePlan {
        const ordered = planOrder(args);
        return planFrom(args, ordered, args.evaluated ?? evaluateAttrs(args.flake, args.system ?? DEFAULT_SYSTEM, attrsOf(ordered), args.nixConfig, args.nixAccessTokens));
    }

    /**
     * plan(), with the evaluation running while the program's event loop stays free (lib/nix.ts
     * evaluateAttrsAsync): what the program registered before it reaches the engine meanwhile.
     * index.ts uses it, after declaring the registry read-back's provider.
     */
    static async planAsync(args: ImagePipelineArgs): Promise<PipelinePlan> {
        const ordered = planOrder(args);
        return planFrom(args, ordered, args.evaluated ?? await evaluateAttrsAsync(args.flake, args.system ?? DEFAULT_SYSTEM, attrsOf(ordered), args.nixConfig, args.nixAccessTokens));
    }

    /** The Docker provider of the GPU runner's checks (`<name>-check-host`), pulling with the registry credentials. */
    private checkRunner(name: string, host: CheckHostArgs, args: ImagePipelineArgs): CheckRunner {
        const ssh = host.dockerHost.startsWith("ssh://");
        return {
            provider: new docker.Provider(`${name}-check-host`, {
                host: host.dockerHost,
                // No ping when the provider is configured: the engine configures it on every
                // preview too, and with an ssh:// host that ping is an SSH connection to the GPU
                // host from wherever the preview runs (a hosted runner, a workstation), which fails
                // where the host is unreachable (kreuzwerker/terraform-provider-docker
                // internal/provider/config.go: dockerClient.Ping unless DisableDockerDaemonCheck;
                // pulumi-docker bridges it as disableDockerDaemonCheck). An up still reaches the
                // daemon at its first pull, after the runner's preflight has checked Docker there.
                disableDockerDaemonCheck: true,
                // Over SSH: never prompt, fail fast when the host is unreachable; with the runner's pinned key when given.
                ...(ssh ? { sshOpts: host.ssh ? dockerSshOptions(host.ssh) : DEFAULT_DOCKER_SSH_OPTS } : {}),
                ...(args.registryAuth ? {
                    registryAuth: [{ address: args.registry, username: args.registryAuth.username, password: pulumi.secret(args.registryAuth.password) }],
                } : {}),
            }, { parent: this }),
            dependsOn: host.dependsOn,
        };
    }
}

/** What ImagePipeline.plan finds: the layers parents first, each attribute's evaluation, and a container image's layers. */
export interface PipelinePlan {
    ordered: LayerSpec[];
    evaluated: ReadonlyMap<string, EvalResult>;
    container?: { imageId: string; layers: { id: string; drvPath: string; outPath: string }[] };
}

const attrsOf = (ordered: readonly LayerSpec[]) => [...new Set(ordered.map((l) => l.attr))];

/** The layers in order, the container image (a layer of the pipeline too: its id and name are checked with the others') included. */
function planOrder(args: ImagePipelineArgs): LayerSpec[] {
    const image = args.containerImage;
    return validateImagePipelineArgs(image ? { ...args, layers: [...args.layers, { id: image.id ?? image.attr, attr: image.attr }] } : args);
}

/** The plan from the evaluation: every layer's attribute must evaluate, and a container image must have layers of its own. */
function planFrom(args: ImagePipelineArgs, ordered: LayerSpec[], evaluated: ReadonlyMap<string, EvalResult>): PipelinePlan {
    const source = args.layersSource ?? "layers";
    const system = args.system ?? DEFAULT_SYSTEM;
    const image = args.containerImage;
    raiseAll(ordered.flatMap((l) => {
        const ev = evaluated.get(l.attr);
        if (!ev) return [`${source}: layer "${l.id}": the flake has no attribute packages.${system}.${l.attr} (${args.flake})`];
        if (isEvalFailure(ev)) return [`${source}: layer "${l.id}": packages.${system}.${l.attr} does not evaluate (${args.flake}):\n${ev.error}`];
        return [];
    }));
    if (!image) return { ordered, evaluated };
    const imageId = image.id ?? image.attr;
    const found = (evaluated.get(image.attr) as Evaluated).containerLayers;
    if (!found?.length) {
        throw new LayerstackError(`${source}: containerImage "${image.attr}": packages.${system}.${image.attr} is no nix2container image with layers of its own (its buildImage script names no layers.json)`);
    }
    const ids = image.layerIds ? [...image.layerIds] : containerLayerIds(imageId, found.length);
    const taken = new Set(ordered.map((l) => l.id));
    raiseAll([
        ...(ids.length !== found.length ? [`${source}: containerImage "${image.attr}" has ${found.length} layers (the last is buildImage's own), but ${ids.length} layer ids are given`] : []),
        ...ids.flatMap((id, i) => !LAYER_ID.test(id) ? [`${source}: containerImage "${image.attr}": layer id "${id}" is not a repository path component`]
            : taken.has(id) || ids.indexOf(id) !== i ? [`${source}: containerImage "${image.attr}": duplicate layer id "${id}"`] : []),
    ]);
    return { ordered, evaluated, container: { imageId, layers: found.map((l, i) => ({ id: ids[i], ...l })) } };
}
