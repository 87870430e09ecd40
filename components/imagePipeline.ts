import * as pulumi from "@pulumi/pulumi";
import * as docker from "@pulumi/docker";
import { raiseAll } from "../lib/errors";
import { LayerSpec, orderLayers } from "../lib/graph";
import { Evaluated, evaluateAttrs, joinNixConfig } from "../lib/nix";
import { CheckRunner, NixImageLayer } from "./nixImageLayer";
import { CheckSpec } from "../layers/checks";
import { NixBuilders } from "../lib/builders";

export interface ImagePipelineArgs {
    /** Flake reference, e.g. `path:/abs/dir` or `github:owner/repo`. */
    readonly flake: string;
    /** Nix system whose `packages.<system>` the layers are read from. @default "x86_64-linux" */
    readonly system?: string;
    /** The layer tree; each layer has at most one parent. */
    readonly layers: readonly LayerSpec[];
    /** Names the layer list in error messages. @default "layers" */
    readonly layersSource?: string;
    readonly registry: string;
    readonly repository: string;
    /** Starts every tag. @default the stack name */
    readonly variant?: string;
    readonly registryAuth?: { username: string; password: pulumi.Output<string> };
    readonly buildTimeoutSeconds?: number;
    /**
     * The evaluation of the layers' attributes, if the caller already has it.
     * @default one `nix eval` of all layers' attributes, run by this constructor
     */
    readonly evaluated?: ReadonlyMap<string, Evaluated | null>;
    /** Smoke checks per layer id. @default none */
    readonly checks?: ReadonlyMap<string, readonly CheckSpec[]>;
    /** Whether the check runner has a GPU. @default false */
    readonly gpuChecks?: boolean;
    /**
     * Run the checks on the GPU runner: a Docker provider (`<name>-check-host`) on this host
     * (`ssh://user@host[:port]`, or `unix:///var/run/docker.sock` when `up` runs on the runner),
     * pulling with the registry credentials. @default the checks run on this machine
     */
    readonly checkHost?: {
        readonly dockerHost: string;
        /** What every image pull waits for, e.g. the runner's preflight. @default none */
        readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
        /** ssh options for an `ssh://` host (the runner's key and pinned host key: lib/dockerSsh.ts). @default BatchMode and a timeout only */
        readonly sshOpts?: pulumi.Input<string[]>;
    };
    /**
     * nix.conf lines every Nix command of the pipeline runs with, its evaluation included, in
     * front of the caller's own NIX_CONFIG (`layerstack:nixConfig`). @default none (the
     * system's Nix as it is)
     */
    readonly nixConfig?: string;
    /** A binary cache's substituter settings for every build and push (`BinaryCache.nixConfig`). @default none */
    readonly cacheNixConfig?: pulumi.Input<string>;
    /** Nix remote builders for every layer's build (lib/builders.ts). @default none: this machine builds */
    readonly builders?: NixBuilders;
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

    constructor(name: string, args: ImagePipelineArgs, opts?: pulumi.ComponentResourceOptions) {
        // Validate and evaluate before registering anything: bad input leaves no resource behind.
        const { ordered, evaluated } = ImagePipeline.plan(args);
        super("layerstack:index:ImagePipeline", name, {}, opts);

        let checkRunner: CheckRunner | undefined;
        if (args.checkHost) {
            const host = args.checkHost.dockerHost;
            checkRunner = {
                provider: new docker.Provider(`${name}-check-host`, {
                    host,
                    // Over SSH: never prompt, fail fast when the host is unreachable.
                    ...(host.startsWith("ssh://") ? { sshOpts: args.checkHost.sshOpts ?? ["-o", "BatchMode=yes", "-o", "ConnectTimeout=30"] } : {}),
                    ...(args.registryAuth ? {
                        registryAuth: [{ address: args.registry, username: args.registryAuth.username, password: pulumi.secret(args.registryAuth.password) }],
                    } : {}),
                }, { parent: this }),
                dependsOn: args.checkHost.dependsOn,
            };
        }
        const components = new Map<string, NixImageLayer>();
        for (const l of ordered) {
            const ev = evaluated.get(l.attr)!;
            components.set(l.id, new NixImageLayer(l.id, {
                attr: l.attr,
                drvPath: ev.drvPath,
                outPath: ev.outPath,
                format: l.format,
                registry: args.registry,
                repository: args.repository,
                variant: args.variant ?? pulumi.getStack(),
                parent: l.parent ? components.get(l.parent) : undefined,
                registryAuth: args.registryAuth,
                buildTimeoutSeconds: args.buildTimeoutSeconds,
                checks: args.checks?.get(l.id),
                gpuChecks: args.gpuChecks,
                checkRunner,
                nixConfig: joinNixConfig(args.nixConfig, args.cacheNixConfig),
                builders: args.builders,
            }, { parent: this }));
        }
        this.layerComponents = components;
        const entries = ordered.map((l) => {
            const c = components.get(l.id)!;
            return pulumi.all([c.digest, c.imageRef, c.ownBlobSize]).apply(([digest, imageRef, ownBlobSize]): [string, LayerOutputs] => [l.id, {
                attr: c.attr, ...(l.parent ? { parent: l.parent } : {}), drvPath: c.drvPath, outPath: c.outPath, tag: c.tag,
                repository: c.repositoryUrl, digest, imageRef, ownBlobSize,
            }]);
        });
        this.layers = pulumi.all(entries).apply((es) => Object.fromEntries(es.filter(([, l]) => l.digest !== undefined)));
        this.registerOutputs({ layers: this.layers });
    }

    /**
     * Orders the layers and evaluates their attributes (one `nix eval`), failing with a
     * message that names the layer when the graph is not a forest or an attribute is missing.
     */
    static plan(args: ImagePipelineArgs): { ordered: LayerSpec[]; evaluated: ReadonlyMap<string, Evaluated | null> } {
        const source = args.layersSource ?? "layers";
        const system = args.system ?? "x86_64-linux";
        const ordered = orderLayers(args.layers, source);
        const evaluated = args.evaluated ?? evaluateAttrs(args.flake, system, [...new Set(ordered.map((l) => l.attr))], args.nixConfig);
        raiseAll(ordered
            .filter((l) => !evaluated.get(l.attr))
            .map((l) => `${source}: layer "${l.id}": the flake has no attribute packages.${system}.${l.attr} (${args.flake})`));
        return { ordered, evaluated };
    }
}
