import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { CheckGate, CheckSpec } from "../lib/checks";
import { localCheckEnv, scriptStub } from "../lib/commands";
import { RegistryAuth } from "../lib/registry";

export interface LayerChecksArgs {
    /** The layer the checks belong to, for messages. @default none */
    readonly layer?: string;
    /**
     * The pushed image, `repo@sha256:...`: checks run against exactly what was published.
     * Undefined while the layer was never pushed (outside `--target`), when the checks are not
     * created either.
     */
    readonly imageRef: pulumi.Input<string | undefined>;
    /** Registry host[:port] the image is pulled from. */
    readonly registry: string;
    /** The checks, one command each. */
    readonly checks: readonly CheckSpec[];
    /** Registry credentials; the password must be a secret Output. @default anonymous */
    readonly registryAuth?: RegistryAuth;
    /** Resources the checks wait for besides the image (its push). @default none */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * A layer's smoke checks, one command resource each (`<name>-<check>`), run on this
 * machine inside the pushed image (see lib/commands/check.ts). A check's trigger is the
 * image digest and its own script, so changing a check re-runs that check and nothing else.
 * Descendant layers' pushes wait for these resources: a failing check stops them.
 */
export class LayerChecks extends pulumi.ComponentResource implements CheckGate {
    public readonly commands: command.local.Command[];
    /** What must pass before the layer counts as checked: every check command. */
    public readonly gate: pulumi.Resource[];
    /** Names of checks that were declared but not run here (they need a GPU). */
    public readonly skipped: string[];

    constructor(name: string, args: LayerChecksArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:LayerChecks", name, {}, opts);
        // This machine has no GPU to give a check: checks marked `gpu` run on the GPU runner only (RunnerChecks).
        const runnable = args.checks.filter((c) => !c.gpu);
        this.skipped = args.checks.filter((c) => c.gpu).map((c) => c.name);
        const imageRef = pulumi.output(args.imageRef).apply((r) => r ?? "");
        this.commands = runnable.map((c) => new command.local.Command(`${name}-${c.name}`, {
            // A one-line stub: a failure shows the check's last lines, not the script (scriptStub).
            create: scriptStub(`${name}-${c.name}`),
            environment: localCheckEnv({ imageRef, registry: args.registry, registryAuth: args.registryAuth, check: c, layer: args.layer }),
            triggers: [args.imageRef, ...(c.argv !== undefined ? [JSON.stringify(c.argv)] : [c.script])],
            logging: "stdoutAndStderr",
        }, { parent: this, dependsOn: args.dependsOn }));
        this.gate = [...this.commands];
        this.registerOutputs({ skipped: this.skipped });
    }
}
