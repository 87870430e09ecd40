import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { NixBuilders } from "../lib/builders";
import { containerLayerEnv, parseContainerLayer, scriptStub } from "../lib/commands";
import { DEFAULT_TIMEOUTS } from "../lib/defaults";
import { childName } from "../lib/naming";

export interface ContainerLayerArgs {
    /** The layer's buildLayer derivation (`<hash>-layers.json.drv`), known after evaluation; the build's trigger. */
    readonly drvPath: string;
    /** Its output, the directory holding layers.json. */
    readonly outPath: string;
    /** Its place in the image, from 1 (the image's order: lib/nix2container.ts). */
    readonly position: number;
    /** The layer before it in the image (whose layers it was folded on). @default none: the first */
    readonly parent?: ContainerLayer;
    /** Seconds the build may take (lib/commands/bounded.ts). @default DEFAULT_TIMEOUTS.build (6 hours) */
    readonly buildTimeoutSeconds?: number;
    /** Nix settings the build runs with (NixImageLayerArgs.nixConfig). @default none */
    readonly nixConfig?: pulumi.Input<string>;
    /** Nix remote builders (lib/builders.ts). @default none: this machine builds */
    readonly builders?: NixBuilders;
}

/**
 * One layer of a nix2container image, as a layer of the pipeline: its build (`<name>-build`)
 * realises the layer's own layers.json derivation, triggered by its drvPath, so a preview
 * names exactly the layers whose derivation changed and Nix builds only those. It is not
 * pushed by itself: the image it belongs to is published once, by its own copyTo, which
 * uploads only the blobs the registry lacks (ImagePipeline's `containerImage`). Its outputs
 * are what its layers.json says: its blobs and their size.
 */
export class ContainerLayer extends pulumi.ComponentResource {
    public readonly layerName: string;
    public readonly drvPath: string;
    public readonly outPath: string;
    public readonly position: number;
    public readonly parent?: ContainerLayer;
    public readonly build: command.local.Command;
    /** The layer's own blobs (layers.json digests, the tars' sha256), in order; undefined while never built. */
    public readonly blobs: pulumi.Output<string[] | undefined>;
    /** The bytes of its own blobs, as layers.json gives them; undefined while never built. */
    public readonly ownBlobSize: pulumi.Output<number | undefined>;

    constructor(name: string, args: ContainerLayerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:ContainerLayer", name, {}, opts);
        this.layerName = name;
        this.drvPath = args.drvPath;
        this.outPath = args.outPath;
        this.position = args.position;
        this.parent = args.parent;
        const build = childName(name, "build");
        this.build = new command.local.Command(build, {
            create: scriptStub(build),
            environment: containerLayerEnv({ drvPath: args.drvPath, timeoutSeconds: args.buildTimeoutSeconds ?? DEFAULT_TIMEOUTS.build, nixConfig: args.nixConfig, builders: args.builders }),
            triggers: [args.drvPath],
            logging: "stderr",
        }, { parent: this });
        const blobs = pulumi.unsecret(this.build.stdout).apply((s) => (s ? parseContainerLayer(s) : undefined));
        this.blobs = blobs.apply((b) => b?.map((x) => x.digest));
        this.ownBlobSize = blobs.apply((b) => b?.reduce((n, x) => n + x.size, 0));
        this.registerOutputs({ drvPath: this.drvPath, outPath: this.outPath, blobs: this.blobs, ownBlobSize: this.ownBlobSize });
    }
}
