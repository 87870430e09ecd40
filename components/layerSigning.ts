import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { SigningKey, attachmentTag, ownStorePathsEnv, parseOwnStorePaths, scriptStub, signEnv } from "../lib/commands";
import { childName } from "../lib/naming";
import { FlakeMetadata, ProvenanceInput, layerProvenance } from "../lib/provenance";
import { RegistryAuth } from "../lib/registry";
import { layerSbom, parsePathInfo } from "../lib/sbom";
import { RegistryImage } from "./registryImage";
import { SigningRecord } from "./signingRecord";

export interface LayerSigningArgs {
    /** The layer id (messages, and the names of the children). */
    readonly layer: string;
    /** The pushed image, `<repository>@sha256:...`; undefined while the layer was never pushed (outside `--target`). */
    readonly imageRef: pulumi.Output<string | undefined>;
    /** Its digest, `sha256:...`. */
    readonly digest: pulumi.Output<string | undefined>;
    /** Registry host[:port]. */
    readonly registry: string;
    /** The repository's path in the registry (NixImageLayer.repositoryPath). */
    readonly repositoryPath: string;
    /** Registry credentials; the password must be a secret Output. @default anonymous */
    readonly registryAuth?: RegistryAuth;
    /** The key pair (the private key and its password secret). */
    readonly key: SigningKey;
    /** Nix settings for `nix path-info` (NixImageLayerArgs.nixConfig). @default none */
    readonly nixConfig?: pulumi.Input<string>;
    /** What the provenance records, but the parent's image (lib/provenance.ts); the flake's metadata may come later. */
    readonly provenance: Omit<ProvenanceInput, "parentImageRef" | "layer" | "flakeMetadata"> & { readonly flakeMetadata: pulumi.Input<FlakeMetadata> };
    /** The parent layer's image, `<repository>@sha256:...`. @default none: a root layer */
    readonly parentImageRef?: pulumi.Output<string | undefined>;
    /** What signing waits for: the layer's push and its checks (NixImageLayer.gate). */
    readonly dependsOn: pulumi.Input<pulumi.Resource>[];
    /** The registry read-back's provider (ImagePipelineArgs.readBack), for the signature's and attestations' RegistryImages and the provenance's SigningRecord: one `pulumi-nodejs` provider process serves them all. @default the default provider */
    readonly readBack?: pulumi.ProviderResource;
}

/**
 * A layer's signature, SBOM and provenance (issue 23), after its push and checks and before
 * any moving tag moves (TagPromotion waits for `gate`, as it waits for the checks):
 *
 * - `<id>-sbom-paths`: the store paths of the layer's own blob, read back from the registry,
 *   with what Nix says of them (lib/commands/sign.ts OWN_STORE_PATHS_SCRIPT); kept in the state,
 *   so it runs once per pushed digest.
 * - `<id>-provenance`: the provenance predicate, frozen per digest (components/signingRecord.ts).
 * - `<id>-sign`: cosign signs the digest and attests the SBOM (CycloneDX, lib/sbom.ts) and the
 *   provenance (SLSA v1, lib/provenance.ts), both made here from what the program knows, then
 *   verifies all three with the public key (SIGN_SCRIPT). Triggered by the digest: a second
 *   `up` with no change signs nothing.
 * - `<id>-sig-in-registry` and `<id>-att-in-registry`: RegistryImages (components/registryImage.ts)
 *   of cosign's `sha256-<hex>.sig` and `.att` tags. Each is read back on every preview, up and
 *   refresh; a missing one gets a new id, and both ids are triggers of `<id>-sign`, so the next
 *   `up` signs and attests again.
 */
export class LayerSigning extends pulumi.ComponentResource {
    public readonly sbomPaths: command.local.Command;
    public readonly sign: command.local.Command;
    public readonly signature: RegistryImage;
    public readonly attestations: RegistryImage;
    /** The layer's SBOM (CycloneDX JSON), once its blob's paths are known. */
    public readonly sbom: pulumi.Output<string>;
    /** What TagPromotion waits for besides the layer's gate: the sign step. */
    public readonly gate: pulumi.Resource[];

    constructor(name: string, args: LayerSigningArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:LayerSigning", name, {}, opts);
        const id = args.layer;
        const imageRef = args.imageRef.apply((r) => r ?? "");
        const digest = args.digest.apply((d) => d ?? "sha256:unpublished");
        const paths = childName(id, "sbom-paths");
        this.sbomPaths = new command.local.Command(paths, {
            create: scriptStub(paths),
            environment: ownStorePathsEnv({ layer: id, imageRef, repositoryPath: args.repositoryPath, registry: args.registry, registryAuth: args.registryAuth, nixConfig: args.nixConfig }),
            triggers: [args.imageRef],
            logging: "stderr",
        }, { parent: this, dependsOn: args.dependsOn });

        // What cosign attached, as the registry holds it (read back on every run).
        const attached = (kind: "sig" | "att") => new RegistryImage(childName(id, kind === "sig" ? "sig-in-registry" : "att-in-registry"), {
            registry: args.registry, repository: args.repositoryPath, tag: digest.apply((d) => attachmentTag(d, kind)), registryAuth: args.registryAuth,
        }, { parent: this, provider: args.readBack });
        this.signature = attached("sig");
        this.attestations = attached("att");

        // stdout is public (digests, store paths, path infos); the provider marks it secret when the password is an input.
        const own = pulumi.unsecret(this.sbomPaths.stdout).apply((s) => parseOwnStorePaths(s));
        this.sbom = pulumi.all([own, imageRef]).apply(([o, ref]) => layerSbom(
            { layer: id, imageRef: ref, drvPath: args.provenance.drvPath }, o.paths, parsePathInfo(o.pathInfo)));
        // Frozen per digest (components/signingRecord.ts): the locked flake and this machine are
        // those of the `up` that published the digest, not of a later `up` that left it alone.
        const provenance = new SigningRecord(childName(id, "provenance"), {
            key: digest,
            value: pulumi.all([args.parentImageRef, args.provenance.flakeMetadata]).apply(([parent, flakeMetadata]) => JSON.stringify(layerProvenance({
                ...args.provenance, flakeMetadata, layer: id, ...(parent ? { parentImageRef: parent } : {}),
            }))),
        }, { parent: this, provider: args.readBack }).value;
        const sign = childName(id, "sign");
        this.sign = new command.local.Command(sign, {
            create: scriptStub(sign),
            environment: signEnv({ layer: id, imageRef, registry: args.registry, registryAuth: args.registryAuth, key: args.key }),
            // One line each: the script reads the SBOM from line 1 and the provenance from line 2.
            stdin: pulumi.interpolate`${this.sbom}\n${provenance}\n`,
            triggers: [args.imageRef, this.signature.id, this.attestations.id],
            logging: "stderr",
        }, { parent: this, dependsOn: [this.sbomPaths] });
        this.gate = [this.sign];
        this.registerOutputs({});
    }
}
