import * as pulumi from "@pulumi/pulumi";

export interface Recorded {
    type: string;
    name: string;
    inputs: Record<string, unknown>;
}

/**
 * Installs Pulumi's unit-test mocks and records every resource. A command resource's
 * stdout is given a fake push result only when the test asks for it; any invoke throws,
 * so a component that calls something unexpected fails the test.
 */
export function installMocks(opts: { stdout?: (r: Recorded) => string | undefined } = {}): Recorded[] {
    const recorded: Recorded[] = [];
    pulumi.runtime.setMocks({
        newResource(args) {
            const r = { type: args.type, name: args.name, inputs: args.inputs };
            recorded.push(r);
            const state = { ...args.inputs };
            const stdout = opts.stdout?.(r);
            if (stdout !== undefined) state.stdout = stdout;
            return { id: `${args.name}-id`, state };
        },
        call(args) {
            // The read of the stack's last outputs (lib/changeReport.ts): a new stack has none, as the
            // engine's builtins.go readStackReference answers for it; a unit test's stack is new.
            if (args.token === "pulumi:pulumi:readStackOutputs") return { name: args.inputs.name, outputs: {} };
            throw new Error(`unexpected invoke ${args.token}`);
        },
    }, "layerstack", "unittest", false, "organization");
    return recorded;
}

/** Resolves an Output in a test (mocks resolve every Output). */
export function valueOf<T>(o: pulumi.Output<T>): Promise<T> {
    return new Promise((resolve) => o.apply((v) => { resolve(v); return v; }));
}

/** Whether an Output is secret. */
export function isSecret<T>(o: pulumi.Output<T>): Promise<boolean> {
    return (o as unknown as { isSecret: Promise<boolean> }).isSecret;
}

export const fakeManifest = (sizes: number[]) => JSON.stringify({
    schemaVersion: 2,
    layers: sizes.map((size, i) => ({ digest: `sha256:${String(i).repeat(64).slice(0, 64)}`, size })),
});
