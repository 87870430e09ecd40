import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { BUILD_SCRIPT, PUSH_SCRIPT, bounded, boundedEnv, tlsVerify, withBuilders, withNixConfig } from "../lib/commands";
import { NixBuilders, buildersEnvironment } from "../lib/builders";
import { DEFAULT_TIMEOUTS } from "../lib/defaults";
import { ImageFormat } from "../lib/graph";
import { CheckSpec } from "../layers/checks";
import { LayerChecks } from "./layerChecks";
import { RunnerChecks } from "./runnerChecks";

export interface NixImageLayerArgs {
    /** Flake attribute the layer is read from (kept as an output for humans and tools). */
    readonly attr: string;
    /** The derivation that builds the layer's image, known after evaluation; the build's trigger. */
    readonly drvPath: string;
    /** Where Nix will put the image (input-addressed, so known before the build). */
    readonly outPath: string;
    /** @default "oci" */
    readonly format?: ImageFormat;
    /** Registry host[:port]. Loopback registries are reached over plain HTTP, others over TLS. */
    readonly registry: string;
    /** Repository path prefix; the image goes to `<registry>/<repository>/<layer name>`. */
    readonly repository: string;
    /** Starts every tag, e.g. the stack or CUDA variant, so stacks never collide. */
    readonly variant: string;
    /** The parent layer: this layer's push waits for the parent's push. */
    readonly parent?: NixImageLayer;
    /** Registry credentials; the password must be a secret Output. */
    readonly registryAuth?: { username: string; password: pulumi.Output<string> };
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
    /** Whether the check runner has a GPU (checks marked `gpu` run only then). @default false */
    readonly gpuChecks?: boolean;
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
    /**
     * Nix remote builders the build hands its derivations to (lib/builders.ts); Nix picks the
     * machine. @default none: this machine builds
     */
    readonly builders?: NixBuilders;
}

/** Where production checks run: a Docker provider whose host is the GPU runner. */
export interface CheckRunner {
    readonly provider: docker.Provider;
    /** What the image pull waits for besides the push, e.g. the runner's preflight. @default none */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/** The tag of a layer: the variant plus the hash part of its drvPath, so it is immutable. */
export function layerTag(variant: string, drvPath: string): string {
    const m = /^\/nix\/store\/([0-9a-z]{32})-[^/]+\.drv$/.exec(drvPath);
    if (!m) throw new Error(`not a derivation path: ${drvPath}`);
    return `${variant}-${m[1]}`;
}

/** What a layer that was not pushed in this update (it is outside `--target`) reports. */
const NOT_PUSHED = { digest: undefined as unknown as string, ownBlobSize: undefined as unknown as number, blobs: undefined as unknown as string[] };

/** Reads the push command's stdout: the digest, then the manifest as the registry has it. */
export function parsePushOutput(stdout: string): { digest: string; ownBlobSize: number; blobs: string[] } {
    const nl = stdout.indexOf("\n");
    const digest = stdout.slice(0, nl).trim();
    if (!/^sha256:[0-9a-f]{64}$/.test(digest)) throw new Error(`push printed no digest: ${stdout.slice(0, 200)}`);
    const manifest = JSON.parse(stdout.slice(nl + 1)) as { layers?: { digest: string; size: number }[] };
    const layers = manifest.layers ?? [];
    return { digest, ownBlobSize: layers.length ? layers[layers.length - 1].size : 0, blobs: layers.map((l) => l.digest) };
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
    public readonly attr: string;
    public readonly drvPath: string;
    public readonly outPath: string;
    public readonly tag: string;
    /** `<registry>/<repository>/<name>`, without tag or digest. */
    public readonly repositoryUrl: string;
    public readonly build: command.local.Command;
    public readonly push: command.local.Command;
    /** `sha256:...` of the pushed manifest. */
    public readonly digest: pulumi.Output<string>;
    /** `<repositoryUrl>@sha256:...`: the immutable reference to publish and deploy. */
    public readonly imageRef: pulumi.Output<string>;
    /** Compressed size in bytes of the one blob this layer adds to its parent's. */
    public readonly ownBlobSize: pulumi.Output<number>;
    /** The image's layer blobs as pushed, root first. */
    public readonly blobs: pulumi.Output<string[]>;
    public readonly checks?: LayerChecks | RunnerChecks;
    /** What a child layer's push waits for: this push and every check of this layer. */
    public readonly gate: pulumi.Resource[];

    constructor(name: string, args: NixImageLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:NixImageLayer", name, {}, opts);
        this.attr = args.attr;
        this.drvPath = args.drvPath;
        this.outPath = args.outPath;
        this.tag = layerTag(args.variant, args.drvPath);
        this.repositoryUrl = `${args.registry}/${args.repository}/${name}`;

        const nixEnv: Record<string, pulumi.Input<string>> = args.nixConfig !== undefined ? { LAYERSTACK_NIX_CONFIG: args.nixConfig } : {};
        // No customTimeouts: the official provider's timeout would kill only the direct child.
        // Each command bounds itself (bounded) and ends every process it started.
        this.build = new command.local.Command(`${name}-build`, {
            create: bounded(args.builders ? withBuilders(withNixConfig(BUILD_SCRIPT)) : withNixConfig(BUILD_SCRIPT)),
            environment: {
                LAYERSTACK_DRV_PATH: args.drvPath,
                ...boundedEnv(`layer ${name}: build`, args.buildTimeoutSeconds ?? DEFAULT_TIMEOUTS.build),
                ...nixEnv,
                ...(args.builders ? buildersEnvironment(args.builders) : {}),
            },
            triggers: [args.drvPath],
            logging: "stderr",
        }, { parent: this });

        const environment: Record<string, pulumi.Input<string>> = {
            LAYERSTACK_DRV_PATH: args.drvPath,
            LAYERSTACK_FORMAT: args.format ?? "oci",
            LAYERSTACK_REGISTRY: args.registry,
            LAYERSTACK_TLS_VERIFY: String(tlsVerify(args.registry)),
            LAYERSTACK_REPOSITORY: this.repositoryUrl,
            LAYERSTACK_TAG: this.tag,
            ...boundedEnv(`layer ${name}: push`, DEFAULT_TIMEOUTS.push),
            ...nixEnv,
        };
        if (args.registryAuth) {
            environment.LAYERSTACK_REGISTRY_USERNAME = args.registryAuth.username;
            environment.LAYERSTACK_REGISTRY_PASSWORD = pulumi.secret(args.registryAuth.password);
        }
        this.push = new command.local.Command(`${name}-push`, {
            create: bounded(withNixConfig(PUSH_SCRIPT)),
            environment,
            triggers: [args.drvPath, this.repositoryUrl, this.tag],
            logging: "stderr",
        }, { parent: this, dependsOn: [this.build, ...(args.parent?.gate ?? [])] });

        // The push prints only the digest and the public manifest, never the password. The
        // official command provider keeps stdout plain; unsecret() keeps the digest plain for
        // providers that taint it.
        // Under `pulumi up --target`, a layer outside the targets that was never pushed has no
        // stdout: its outputs stay undefined and the pipeline leaves it out of `layers`.
        const pushed = pulumi.unsecret(this.push.stdout).apply((s) => (s ? parsePushOutput(s) : NOT_PUSHED));
        this.digest = pushed.digest;
        this.ownBlobSize = pushed.ownBlobSize;
        this.blobs = pushed.blobs;
        this.imageRef = this.digest.apply((d) => (d === undefined ? (undefined as unknown as string) : `${this.repositoryUrl}@${d}`));
        if (args.checks?.length && args.checkRunner) {
            this.checks = new RunnerChecks(`${name}-check`, {
                layer: name, imageRef: this.imageRef, checks: args.checks, provider: args.checkRunner.provider,
                dependsOn: [this.push, ...(args.checkRunner.dependsOn ?? [])],
            }, { parent: this });
        } else if (args.checks?.length) {
            this.checks = new LayerChecks(`${name}-check`, {
                imageRef: this.imageRef, registry: args.registry, checks: args.checks, gpu: args.gpuChecks,
                registryAuth: args.registryAuth, dependsOn: [this.push],
            }, { parent: this });
        }
        this.gate = [this.push, ...(this.checks?.gate ?? [])];
        this.registerOutputs({
            attr: this.attr, drvPath: this.drvPath, outPath: this.outPath, tag: this.tag,
            digest: this.digest, imageRef: this.imageRef, ownBlobSize: this.ownBlobSize,
        });
    }
}
