import * as pulumi from "@pulumi/pulumi";
import { RegistryAuth, RegistryClient } from "../lib/registry";

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
 * outputs of a secret input secret again); the serialized provider below captures no value
 * of the stack, only code.
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

interface State {
    registry: string;
    repository: string;
    tag: string;
    username?: string;
    password?: string;
    /** Whether the last look found the reference (absent before the first look). */
    inRegistry?: boolean;
}

/** What makes a RegistryImage stand for another reference: a change of these replaces it. */
const IDENTITY: (keyof State)[] = ["registry", "repository", "tag"];

async function lookup(s: State): Promise<boolean> {
    const client = new RegistryClient({ registry: s.registry, username: s.username, password: s.password });
    return (await client.headManifest(s.repository, s.tag)) !== null;
}

/** The provider, serialized into the state with its closure: code only, no value of the stack. */
export const registryImageProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: State, news: State): Promise<pulumi.dynamic.DiffResult> {
        const replaces = IDENTITY.filter((k) => olds[k] !== news[k]);
        if (replaces.length > 0) return { changes: true, replaces };
        if (!(await lookup(news))) return { changes: true, replaces: ["inRegistry"] };
        // A changed username or password is stored, nothing more.
        return { changes: olds.username !== news.username || olds.password !== news.password };
    },
    async create(inputs: State): Promise<pulumi.dynamic.CreateResult> {
        const crypto = require("crypto") as typeof import("crypto");
        return { id: crypto.randomUUID(), outs: { ...inputs, inRegistry: true } };
    },
    async update(_id: string, _olds: State, news: State): Promise<pulumi.dynamic.UpdateResult> {
        return { outs: { ...news, inRegistry: true } };
    },
    async read(id: string, props: State): Promise<pulumi.dynamic.ReadResult> {
        return { id, props: { ...props, inRegistry: await lookup(props) } };
    },
    async delete(): Promise<void> {
        // Nothing: retiring images is ImageRetention's (keepImages, deleteImagesOnDestroy).
    },
};

/**
 * One published reference, checked against the registry on every preview, up and refresh.
 * Its `id` changes exactly when the reference went missing: use it as a trigger of the
 * command that publishes the reference.
 */
export class RegistryImage extends pulumi.dynamic.Resource {
    public readonly inRegistry!: pulumi.Output<boolean>;

    constructor(name: string, args: RegistryImageArgs, opts?: pulumi.CustomResourceOptions) {
        super(registryImageProvider, name, {
            registry: args.registry,
            repository: args.repository,
            tag: args.tag,
            ...(args.registryAuth ? { username: args.registryAuth.username, password: pulumi.secret(args.registryAuth.password) } : {}),
            inRegistry: undefined,
        }, opts, "layerstack", "RegistryImage");
    }
}
