import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { PULL_REQUEST_EVENTS, promoteEnv, scriptStub } from "../lib/commands";
import { movingTag } from "../lib/layout";
import { childName } from "../lib/naming";
import { RegistryAuth } from "../lib/registry";
import { NixImageLayer } from "./nixImageLayer";
import { RegistryImage } from "./registryImage";

export interface TagPromotionArgs {
    /** The layers whose moving tag follows their pushed digest, by layer id. */
    readonly layers: ReadonlyMap<string, NixImageLayer>;
    /** Registry host[:port] the layers were pushed to. */
    readonly registry: string;
    /** The moving tag is `<variant>-latest`. @example "cu130" */
    readonly variant: string;
    /** Registry credentials; the password must be a secret Output. @default anonymous */
    readonly registryAuth?: RegistryAuth;
    /**
     * The GitHub Actions event this program runs for; a pull request's never moves a tag.
     * @default process.env.GITHUB_EVENT_NAME
     */
    readonly eventName?: string;
    /** The registry read-back's provider, for each moving tag's RegistryImage (ImagePipelineArgs.readBack). @default the default provider */
    readonly readBack?: pulumi.ProviderResource;
}

/** The moving tag of a variant, with a layout's tag suffix (lib/layout.ts). */
export { movingTag };

/** Whether a GitHub Actions event is a pull request's (then moving tags stay where they are). */
export function isPullRequest(eventName: string | undefined): boolean {
    return eventName !== undefined && PULL_REQUEST_EVENTS.includes(eventName);
}

/**
 * Moving tags: per layer a command `<id>-promote` that points `<repository>:<variant>-latest`
 * at the layer's pushed digest, once the layer is published, checked and, when the stack signs,
 * signed and attested (its `promotionGate`). Runs
 * again only when the digest changes. For a pull request (GITHUB_EVENT_NAME) it declares
 * nothing and logs that promotion was skipped.
 */
export class TagPromotion extends pulumi.ComponentResource {
    /** Whether promotion was skipped because this is a pull request. */
    public readonly skipped: boolean;
    /** One command per layer id (empty when skipped). */
    public readonly commands: ReadonlyMap<string, command.local.Command>;
    /** Per layer id, `<repository>:<variant>-latest` -> the digest it points at (empty when skipped). */
    public readonly tags: pulumi.Output<Record<string, { ref: string; digest: string }>>;

    constructor(name: string, args: TagPromotionArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:TagPromotion", name, {}, opts);
        const eventName = args.eventName ?? process.env.GITHUB_EVENT_NAME;
        const commands = new Map<string, command.local.Command>();
        this.skipped = isPullRequest(eventName);
        if (this.skipped) {
            const tag = movingTag(args.variant, [...args.layers.values()].some((l) => l.tagSuffix) ? "-<layer>" : "");
            pulumi.log.info(`moving tags: GITHUB_EVENT_NAME=${eventName}: this is a pull request, so no ${tag} tag is promoted`, this);
        } else {
            for (const [id, layer] of args.layers) {
                const tag = movingTag(args.variant, layer.tagSuffix);
                // The moving tag as the registry holds it, checked on every preview, up and refresh:
                // when it is gone, the promote is replaced and moves it again (components/registryImage.ts).
                const published = new RegistryImage(childName(id, "promote-in-registry"), {
                    registry: args.registry, repository: layer.repositoryPath, tag, registryAuth: args.registryAuth,
                }, { parent: this, provider: args.readBack });
                const promote = childName(id, "promote");
                commands.set(id, new command.local.Command(promote, {
                    create: scriptStub(promote),
                    environment: promoteEnv({
                        imageRef: layer.imageRef.apply((r) => r ?? ""), repositoryUrl: layer.repositoryUrl, movingTag: tag, registry: args.registry, registryAuth: args.registryAuth,
                    }),
                    triggers: [layer.imageRef, `${layer.repositoryUrl}:${tag}`, published.id],
                    logging: "stderr",
                }, { parent: this, dependsOn: layer.promotionGate }));
            }
        }
        this.commands = commands;
        const entries = [...commands].map(([id, c]) => {
            const layer = args.layers.get(id)!;
            const ref = `${layer.repositoryUrl}:${movingTag(args.variant, layer.tagSuffix)}`;
            // stdout is the digest (public); the provider marks it secret when the password is an input.
            return pulumi.unsecret(c.stdout).apply((s): [string, { ref: string; digest: string }] => [id, { ref, digest: s.trim() }]);
        });
        this.tags = pulumi.all(entries).apply((es) => Object.fromEntries(es));
        this.registerOutputs({ tags: this.tags });
    }
}
