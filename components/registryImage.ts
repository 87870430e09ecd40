import * as pulumi from "@pulumi/pulumi";
import { RegistryAuth } from "../lib/registry";
import { registryImageProviderText } from "../lib/registryCheck";

/**
 * "The registry is the truth" (design 13): a published image can vanish (a retention
 * policy, a manual delete, a new registry), and a command resource never reads anything
 * back. RegistryImage is a Pulumi dynamic resource that stands for one published reference
 * (`<repository>:<tag>`) and asks the registry about it on every preview, up and refresh:
 *
 * - `diff` (preview and up): one manifest HEAD with the stack's credentials. When the
 *   registry answers 404 it asks for a replacement, with the reason `inRegistry`; the
 *   replacement gets a new id, and the id is a trigger of the command that publishes the
 *   reference (the layer's push, the moving tag's promote), so that command shows as a
 *   replace in the preview and publishes again in `up`. The next run finds the image and
 *   answers "no change": the trigger is the id, which stays, not "missing", which would flip
 *   back and replace again.
 * - `read` (refresh): the same HEAD; a missing image sets `inRegistry: false` in the state, so
 *   a refresh shows the drift (and `refresh --expect-no-changes` fails), and the next preview
 *   or up replaces it.
 * - A registry that cannot be reached, or refuses the credentials, fails the check with a
 *   message naming the registry: it never counts as present.
 * - `create` asks nothing (the reference is about to be published), `delete` deletes nothing:
 *   images are retired only by ImageRetention (layerstack:keepImages, deleteImagesOnDestroy).
 *
 * The engine runs each resource's diff as its own step, so the HEADs of all layers run
 * concurrently. Credentials are inputs, the password a secret one: the engine keeps it
 * encrypted in the state (dynamic providers take no secrets, and the engine marks the
 * outputs of a secret input secret again); the provider's text (lib/registryCheck.ts) is
 * code only, no value of the stack.
 */

/** The inputs of a RegistryImage. */
export interface RegistryImageArgs {
    /** Registry `host[:port]`. */
    readonly registry: pulumi.Input<string>;
    /** Repository path without the registry, e.g. `owner/megapak/layer01-base-cuda`. */
    readonly repository: pulumi.Input<string>;
    /** The tag the publishing command writes (the layer's immutable tag, or the moving tag). */
    readonly tag: pulumi.Input<string>;
    /** Registry credentials; the password must be a secret Output. @default anonymous */
    readonly registryAuth?: RegistryAuth;
}

/**
 * One published reference, checked against the registry on every preview, up and refresh.
 * Its `id` changes exactly when the reference went missing: use it as a trigger of the
 * command that publishes the reference.
 */
export class RegistryImage extends pulumi.CustomResource {
    public readonly inRegistry!: pulumi.Output<boolean>;

    constructor(name: string, args: RegistryImageArgs, opts?: pulumi.CustomResourceOptions) {
        // What pulumi.dynamic.Resource registers (`pulumi-nodejs:dynamic/<module>:<type>`, the
        // provider's code in `__provider`), with the code handed over as it is (lib/registryCheck.ts).
        super("pulumi-nodejs:dynamic/layerstack:RegistryImage", name, {
            __provider: registryImageProviderText(),
            registry: args.registry,
            repository: args.repository,
            tag: args.tag,
            ...(args.registryAuth ? { username: args.registryAuth.username, password: pulumi.secret(args.registryAuth.password) } : {}),
            inRegistry: undefined,
        }, opts);
    }
}

/**
 * The provider of the stack's RegistryImages (`pulumi:providers:pulumi-nodejs`), for a program
 * to declare first, before its evaluation, and hand to each RegistryImage as its `provider`
 * (ImagePipelineArgs.readBack says why not to the components, as their `providers`).
 *
 * Why first: the engine starts a provider's process when the first resource of its package
 * registers, and holds every registration behind that start (pulumi pkg/resource/deploy
 * providers/registry.go: Registry.Check loads the plugin, in the step generator). The dynamic
 * provider's process is node loading @pulumi/pulumi, about half a second; declared after the
 * layers, it came after the program's declarations and every push and check waited for it.
 * Declared before `ImagePipeline.planAsync`, it starts while Nix evaluates and the program
 * declares, and is ready when the first RegistryImage comes.
 *
 * The alias makes it the default provider that stacks published before it have in their
 * state: the engine takes an aliased provider as the same one (step_generator.go
 * providerChanged), so no RegistryImage, and no push behind one, is replaced by the move.
 */
export class RegistryReadBack extends pulumi.ProviderResource {
    constructor(name: string, opts?: pulumi.ResourceOptions) {
        super("pulumi-nodejs", name, {}, { ...opts, aliases: [...(opts?.aliases ?? []), { name: "default" }] });
    }
}
