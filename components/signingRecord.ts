import * as pulumi from "@pulumi/pulumi";

/**
 * A value frozen per key (a dynamic resource, `pulumi-nodejs:dynamic/layerstack:SigningRecord`):
 * its `value` output is the `value` input as it was when `key` last changed, whatever the input
 * says later. A layer's provenance (components/layerSigning.ts) says where and from what the
 * digest was built: the locked flake and the machine of the `up` that published it. Both move
 * with changes that leave this layer alone (any edit of a `path:` flake locks a new NAR hash; CI
 * runs on a new runner each time), and what the registry holds for this digest stays true; so
 * the attestation is made once per digest, and a second `up` re-attests nothing.
 *
 * (`ignoreChanges` would not do: the engine then keeps the old input even when the resource is
 * replaced, pulumi.com/docs/iac/concepts/options/ignorechanges.)
 */
export interface SigningRecordInputs {
    /** What the value belongs to: the layer's digest. */
    key: string;
    /** The value (JSON text). */
    value: string;
}

/** The provider, serialized into the state with its closure: code only, no value of the stack. */
export const signingRecordProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: SigningRecordInputs, news: SigningRecordInputs): Promise<pulumi.dynamic.DiffResult> {
        return { changes: olds.key !== news.key };
    },
    async create(inputs: SigningRecordInputs): Promise<pulumi.dynamic.CreateResult> {
        const crypto = require("crypto") as typeof import("crypto");
        return { id: crypto.randomUUID(), outs: { key: inputs.key, value: inputs.value } };
    },
    async update(_id: string, _olds: SigningRecordInputs, news: SigningRecordInputs): Promise<pulumi.dynamic.UpdateResult> {
        return { outs: { key: news.key, value: news.value } };
    },
};

/** One frozen value; see the top of this file. */
export class SigningRecord extends pulumi.dynamic.Resource {
    public readonly key!: pulumi.Output<string>;
    public readonly value!: pulumi.Output<string>;

    constructor(name: string, props: { key: pulumi.Input<string>; value: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super(signingRecordProvider, name, props, opts, "layerstack", "SigningRecord");
    }
}
