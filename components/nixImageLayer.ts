import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { NixBuilders } from "../lib/builders";
import { CheckGate, CheckSpec } from "../lib/checks";
import { buildEnv, pushEnv, scriptStub } from "../lib/commands";
import { DEFAULT_TIMEOUTS } from "../lib/defaults";
import { ImageFormat } from "../lib/graph";
import { childName } from "../lib/naming";
import { RepositoryLayout, layerPlace, layerTag } from "../lib/layout";
import { CopyTo } from "../lib/nix";
import { RegistryAuth } from "../lib/registry";
import { LayerChecks } from "./layerChecks";
import { RunnerChecks } from "./runnerChecks";
import { RegistryImage } from "./registryImage";
import { LayerSigning, LayerSigningArgs } from "./layerSigning";

export interface NixImageLayerArgs {
    /** Flake attribute the layer is read from (kept as an output for humans and tools). */
    readonly attr: string;
    /** The derivation that builds the layer's image, known after evaluation; the build's trigger. */
    readonly drvPath: string;
    /** Where Nix will put the image (input-addressed, so known before the build). */
    readonly outPath: string;
    /** Forces how the output is read. @default detected from the output's content */
    readonly format?: ImageFormat;
    /**
     * The attribute's `copyTo` program (nix2container), which then publishes the image
     * (`ImagePipeline` passes it from its evaluation). @default none
     */
    readonly copyTo?: CopyTo;
    /** Registry host[:port]. Loopback registries are reached over plain HTTP, others over TLS. */
    readonly registry: string;
    /**
     * Repository path prefix; the image goes to `<registry>/<repository>/<layer name>`, or with
     * `repositoryLayout: "single"` to `<registry>/<repository>` (lib/layout.ts).
     */
    readonly repository: string;
    /** One repository per layer, or every layer in one (the id in its tags; lib/layout.ts). @default "per-layer" */
    readonly repositoryLayout?: RepositoryLayout;
    /** Starts every tag, e.g. the stack or CUDA variant, so stacks never collide. */
    readonly variant: string;
    /** The parent layer: this layer's push waits for the parent's push and checks. @default none: a root layer */
    readonly parent?: NixImageLayer;
    /** Registry credentials; the password must be a secret Output. @default anonymous */
    readonly registryAuth?: RegistryAuth;
    /**
     * Seconds the build may take; past that the build and every process it started are
     * stopped (lib/commands/bounded.ts). @default DEFAULT_TIMEOUTS.build (6 hours)
     */
    readonly buildTimeoutSeconds?: number;
    /**
     * Smoke checks run inside the pushed image; descendants are pushed only after they pass.
     * @default none
     */
    readonly checks?: readonly CheckSpec[];
    /**
     * Run the checks on the GPU runner through Docker (RunnerChecks: every check, with the
     * GPUs) instead of on this machine (LayerChecks). @default this machine
     */
    readonly checkRunner?: CheckRunner;
    /**
     * Nix settings (nix.conf lines) the build and push run with, in front of the caller's own
     * NIX_CONFIG: the stack's `layerstack:nixConfig` and a binary cache's `extra-substituters`
     * / `extra-trusted-public-keys` (`BinaryCache.nixConfig`). @default none
     */
    readonly nixConfig?: pulumi.Input<string>;
    /** A private binary cache's netrc (secret; `BinaryCache.netrc`), for the build and the push. @default none */
    readonly netrc?: pulumi.Input<string>;
    /**
     * Nix `access-tokens` (`host=token ...`) the build runs with, for private flake inputs; a
     * secret (it reaches Nix as `extra-access-tokens` in the secret environment only). @default none
     */
    readonly nixAccessTokens?: pulumi.Input<string>;
    /**
     * Read the pushed tag back from the registry on every preview, up and refresh, and publish
     * it again when it is gone (RegistryImage `<name>-in-registry`). Off only to measure what the
     * check costs (bench/run.ts). @default true
     */
    readonly checkRegistry?: boolean;
    /**
     * Nix remote builders the build hands its derivations to (lib/builders.ts); Nix picks the
     * machine. @default none: this machine builds
     */
    readonly builders?: NixBuilders;
    /**
     * The build starts only once this resolves, and nothing of the layer runs when it fails: the
     * pipeline's check of the registry's limits against the preview's estimates (ImagePipeline
     * `registryLimits`). It changes no input. @default none
     */
    readonly startAfter?: pulumi.Output<unknown>;
    /**
     * The largest blob the registry accepts, in bytes: the push refuses a bigger one before
     * uploading anything (BLOB_LIMIT_CHECK, lib/commands/layer.ts). @default none
     */
    readonly maxBlobBytes?: number;
    /**
     * Sign the pushed digest with cosign and attest its SBOM and provenance, after the push and
     * checks and before any moving tag moves (LayerSigning `<name>-signing`). @default not signed
     */
    readonly signing?: LayerSigningSpec;
    /** The registry read-back's provider, for the layer's RegistryImages and signing (ImagePipelineArgs.readBack says why not as `providers`). @default the default provider */
    readonly readBack?: pulumi.ProviderResource;
}

/** What a layer's signing needs from the pipeline: the key pair and what its provenance records beyond the layer. */
export interface LayerSigningSpec {
    readonly key: LayerSigningArgs["key"];
    readonly provenance: Omit<LayerSigningArgs["provenance"], "attr" | "drvPath" | "outPath">;
}

/** Where production checks run: a Docker provider whose host is the GPU runner. */
export interface CheckRunner {
    readonly provider: docker.Provider;
    /** What the image pull waits for besides the push, e.g. the runner's preflight. @default none */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The tag of a layer: the variant plus the hash part of its drvPath, so it is immutable (lib/layout.ts). */
export { layerTag } from "../lib/layout";

/** What a layer's push printed: the digest, its own blob's size and every blob, root first; its config's and manifest's sizes. */
export interface Pushed {
    readonly digest: string;
    readonly ownBlobSize: number;
    readonly blobs: string[];
    /** Bytes of the image config blob and of the manifest as the registry holds them (what a push uploads besides new layer blobs). */
    readonly configSize: number;
    readonly manifestSize: number;
}

/** Reads the push command's stdout: the digest, then the manifest as the registry has it. */
export function parsePushOutput(stdout: string): Pushed {
    const nl = stdout.indexOf("\n");
    const digest = stdout.slice(0, nl).trim();
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`push printed no digest: ${stdout.slice(0, 200)}`);
    // The manifest exactly as the registry returned it (skopeo inspect --raw), less printf's newline.
    const raw = stdout.slice(nl + 1).replace(/\n$/, "");
    const manifest = JSON.parse(raw) as { layers?: { digest: string; size: number }[]; config?: { size: number } };
    const layers = manifest.layers ?? [];
    return {
        digest, ownBlobSize: layers.length ? layers[layers.length - 1].size : 0, blobs: layers.map((l) => l.digest),
        configSize: manifest.config?.size ?? 0, manifestSize: Buffer.byteLength(raw, "utf8"),
    };
}

/**
 * One image layer: a Nix build, triggered by the layer's drvPath, and a push of the built
 * image to `<registry>/<repository>/<name>:<variant>-<drv hash>`.
 *
 * The build does not wait for any other layer (Nix schedules shared work across the
 * concurrent builds); only the push waits for the parent's push, so the registry never
 * holds a child without its parent.
 */
export class NixImageLayer extends pulumi.ComponentResource {
    /** The layer's id (its component's name). */
    public readonly layerName: string;
    public readonly attr: string;
    public readonly drvPath: string;
    public readonly outPath: string;
    public readonly tag: string;
    /** `<registry>/<repository>/<name>`, without tag or digest. */
    public readonly repositoryUrl: string;
    /** `<repository>/<name>` (`<repository>` in the single layout): the repository's path in the registry. */
    public readonly repositoryPath: string;
    /** What the layer's tags end with: `""`, or `-<name>` in the single layout (lib/layout.ts). */
    public readonly tagSuffix: string;
    public readonly build: command.local.Command;
    public readonly push: command.local.Command;
    /**
     * The pushed tag as the registry holds it, checked on every preview, up and refresh
     * (`<name>-in-registry`); when it is gone, the push is replaced and publishes it again.
     */
    public readonly published?: RegistryImage;
    // Under `pulumi up --target`, a layer outside the targets that was never pushed has no push
    // output: these are undefined then, and the pipeline leaves the layer out of `layers`.
    /** `sha256:...` of the pushed manifest; undefined while the layer was never pushed (outside `--target`). */
    public readonly digest: pulumi.Output<string | undefined>;
    /** `<repositoryUrl>@sha256:...`: the immutable reference to publish and deploy; undefined while never pushed. */
    public readonly imageRef: pulumi.Output<string | undefined>;
    /** Compressed size in bytes of the one blob this layer adds to its parent's; undefined while never pushed. */
    public readonly ownBlobSize: pulumi.Output<number | undefined>;
    /** The image's layer blobs as pushed, root first; undefined while never pushed. */
    public readonly blobs: pulumi.Output<string[] | undefined>;
    /** Bytes of its config blob and manifest as pushed; undefined while never pushed. */
    public readonly configSize: pulumi.Output<number | undefined>;
    public readonly manifestSize: pulumi.Output<number | undefined>;
    /** The layer's smoke checks, on this machine (LayerChecks) or the GPU runner (RunnerChecks). @default none */
    public readonly checks?: CheckGate;
    /** What a child layer's push waits for: this push and every check of this layer. */
    public readonly gate: pulumi.Resource[];
    /** The layer's signature, SBOM and provenance (`signing`). @default none */
    public readonly signing?: LayerSigning;
    /** What a moving tag (and retention) waits for: the gate and, when signed, the signing: a failed signature stops it as a failed check does. */
    public readonly promotionGate: pulumi.Resource[];

    constructor(name: string, args: NixImageLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:NixImageLayer", name, {}, opts);
        this.layerName = name;
        this.attr = args.attr;
        this.drvPath = args.drvPath;
        this.outPath = args.outPath;
        const place = layerPlace(args.repositoryLayout, args.repository, name);
        this.tagSuffix = place.tagSuffix;
        this.tag = layerTag(args.variant, args.drvPath, place.tagSuffix);
        this.repositoryPath = place.repositoryPath;
        this.repositoryUrl = `${args.registry}/${this.repositoryPath}`;

        // Each command's text is a one-line stub (scriptStub) that runs the script it carries in
        // LAYERSTACK_SCRIPT under a time limit of its own: a failure shows the step and its last
        // lines, and a timeout ends every process it started. No customTimeouts: the official
        // provider's timeout would SIGKILL the direct child only.
        const build = childName(name, "build");
        const buildEnvironment = buildEnv({
            drvPath: args.drvPath, timeoutSeconds: args.buildTimeoutSeconds ?? DEFAULT_TIMEOUTS.build, nixConfig: args.nixConfig,
            nixAccessTokens: args.nixAccessTokens, builders: args.builders, netrc: args.netrc,
        });
        // The same value, known only once `startAfter` is: a failed check registers no build.
        if (args.startAfter) buildEnvironment.LAYERSTACK_DRV_PATH = pulumi.all([args.drvPath, args.startAfter]).apply(([d]) => d);
        this.build = new command.local.Command(build, {
            create: scriptStub(build),
            environment: buildEnvironment,
            triggers: [args.drvPath],
            logging: "stderr",
        }, { parent: this });

        this.published = args.checkRegistry === false ? undefined : new RegistryImage(childName(name, "in-registry"), {
            registry: args.registry,
            repository: this.repositoryPath,
            tag: this.tag,
            registryAuth: args.registryAuth,
        }, { parent: this, provider: args.readBack });
        const push = childName(name, "push");
        this.push = new command.local.Command(push, {
            create: scriptStub(push),
            environment: pushEnv({
                layer: name, drvPath: args.drvPath, format: args.format, copyTo: args.copyTo,
                registry: args.registry, repositoryUrl: this.repositoryUrl, tag: this.tag, registryAuth: args.registryAuth, nixConfig: args.nixConfig, netrc: args.netrc,
                // The push checks that the parent's pushed layers start this image (PUSH_SCRIPT).
                parent: args.parent && { layer: args.parent.layerName, image: `${args.parent.repositoryUrl}:${args.parent.tag}` },
                maxBlobBytes: args.maxBlobBytes,
            }),
            // The RegistryImage's id changes exactly when the registry lost the tag: then the push
            // is replaced and publishes it again (components/registryImage.ts).
            triggers: [args.drvPath, this.repositoryUrl, this.tag, ...(this.published ? [this.published.id] : [])],
            logging: "stderr",
        }, { parent: this, dependsOn: [this.build, ...(args.parent?.gate ?? [])] });

        // The push prints only the digest and the public manifest, never the password. The
        // official command provider keeps stdout plain; unsecret() keeps the digest plain for
        // providers that taint it.
        const pushed = pulumi.unsecret(this.push.stdout).apply((s): Pushed | undefined => (s ? parsePushOutput(s) : undefined));
        this.digest = pushed.apply((p) => p?.digest);
        this.ownBlobSize = pushed.apply((p) => p?.ownBlobSize);
        this.blobs = pushed.apply((p) => p?.blobs);
        this.configSize = pushed.apply((p) => p?.configSize);
        this.manifestSize = pushed.apply((p) => p?.manifestSize);
        this.imageRef = this.digest.apply((d) => (d === undefined ? undefined : `${this.repositoryUrl}@${d}`));
        const check = childName(name, "check");
        if (args.checks?.length && args.checkRunner) {
            this.checks = new RunnerChecks(check, {
                layer: name, imageRef: this.imageRef, checks: args.checks, provider: args.checkRunner.provider,
                dependsOn: [this.push, ...(args.checkRunner.dependsOn ?? [])],
                registry: args.registry, registryAuth: args.registryAuth,
            }, { parent: this });
        } else if (args.checks?.length) {
            this.checks = new LayerChecks(check, {
                layer: name, imageRef: this.imageRef, registry: args.registry, checks: args.checks,
                registryAuth: args.registryAuth, dependsOn: [this.push],
            }, { parent: this });
        }
        this.gate = [this.push, ...(this.checks?.gate ?? [])];
        this.signing = args.signing && new LayerSigning(childName(name, "signing"), {
            layer: name, imageRef: this.imageRef, digest: this.digest, registry: args.registry, repositoryPath: this.repositoryPath,
            registryAuth: args.registryAuth, key: args.signing.key, nixConfig: args.nixConfig,
            provenance: { ...args.signing.provenance, attr: args.attr, drvPath: args.drvPath, outPath: args.outPath },
            parentImageRef: args.parent?.imageRef,
            dependsOn: this.gate, readBack: args.readBack,
        }, { parent: this });
        this.promotionGate = [...this.gate, ...(this.signing?.gate ?? [])];
        this.registerOutputs({
            attr: this.attr, drvPath: this.drvPath, outPath: this.outPath, tag: this.tag,
            digest: this.digest, imageRef: this.imageRef, ownBlobSize: this.ownBlobSize,
        });
    }
}
