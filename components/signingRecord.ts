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
 *
 * Registered as `pulumi.dynamic.Resource` registers (type and `__provider`), with the provider
 * handed over as plain JavaScript (SIGNING_RECORD_PROVIDER) rather than through Pulumi's closure
 * serializer, which parses the captured functions with TypeScript on every run of the program
 * (0.4 to 0.55 s here; lib/registryCheck.ts says the same of the registry read-back). The
 * official dynamic provider loads it as it loads any (cmd/dynamic-provider/index.js:
 * `requireFromString(props.__provider).handler()`).
 */
export interface SigningRecordInputs {
    /** What the value belongs to: the layer's digest. */
    key: string;
    /** The value (JSON text). */
    value: string;
}

/**
 * The provider's module: code only, no value of the stack. A change of `key` is a change (an
 * update that takes the new value); any other difference is none, so the value stays.
 */
export const SIGNING_RECORD_PROVIDER = `"use strict";
// layerstack's SigningRecord (components/signingRecord.ts): a value frozen per key.
exports.handler = () => ({
    async diff(_id, olds, news) {
        return { changes: olds.key !== news.key };
    },
    async create(inputs) {
        return { id: require("crypto").randomUUID(), outs: { key: inputs.key, value: inputs.value } };
    },
    async update(_id, _olds, news) {
        return { outs: { key: news.key, value: news.value } };
    },
});
`;

/** One frozen value; see the top of this file. */
export class SigningRecord extends pulumi.CustomResource {
    public readonly key!: pulumi.Output<string>;
    public readonly value!: pulumi.Output<string>;

    constructor(name: string, props: { key: pulumi.Input<string>; value: pulumi.Input<string> }, opts?: pulumi.CustomResourceOptions) {
        super("pulumi-nodejs:dynamic/layerstack:SigningRecord", name, { __provider: SIGNING_RECORD_PROVIDER, key: props.key, value: props.value }, opts);
    }
}
