import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { LOCAL_CHECK_SCRIPT, scriptEnv, scriptStub, tlsVerify } from "../lib/commands";
import { DEFAULT_TIMEOUTS } from "../lib/defaults";
import { CheckSpec } from "../layers/checks";

export interface LayerChecksArgs {
    /** The pushed image, `repo@sha256:...`: checks run against exactly what was published. */
    readonly imageRef: pulumi.Input<string>;
    readonly registry: string;
    readonly checks: readonly CheckSpec[];
    /**
     * Whether the runner has a GPU. Checks marked `gpu` run only where it has.
     * @default false
     */
    readonly gpu?: boolean;
    readonly registryAuth?: { username: string; password: pulumi.Output<string> };
    /** Resources the checks wait for besides the image (its push). */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
}

/**
 * A layer's smoke checks, one command resource each (`<name>-<check>`), run on this
 * machine inside the pushed image (see lib/commands/check.ts). A check's trigger is the
 * image digest and its own script, so changing a check re-runs that check and nothing else.
 * Descendant layers' pushes wait for these resources: a failing check stops them.
 */
export class LayerChecks extends pulumi.ComponentResource {
    public readonly commands: command.local.Command[];
    /** What must pass before the layer counts as checked: every check command. */
    public readonly gate: pulumi.Resource[];
    /** Names of checks that were declared but not run here (they need a GPU). */
    public readonly skipped: string[];

    constructor(name: string, args: LayerChecksArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:LayerChecks", name, {}, opts);
        const runnable = args.checks.filter((c) => !c.gpu || args.gpu);
        this.skipped = args.checks.filter((c) => c.gpu && !args.gpu).map((c) => c.name);
        this.commands = runnable.map((c) => {
            const environment: Record<string, pulumi.Input<string>> = {
                ...scriptEnv(LOCAL_CHECK_SCRIPT, DEFAULT_TIMEOUTS.check),
                LAYERSTACK_IMAGE_REF: args.imageRef,
                LAYERSTACK_REGISTRY: args.registry,
                LAYERSTACK_TLS_VERIFY: String(tlsVerify(args.registry)),
                LAYERSTACK_CHECK_NAME: c.name,
                LAYERSTACK_CHECK_SCRIPT: c.script,
            };
            if (args.registryAuth) {
                environment.LAYERSTACK_REGISTRY_USERNAME = args.registryAuth.username;
                environment.LAYERSTACK_REGISTRY_PASSWORD = pulumi.secret(args.registryAuth.password);
            }
            return new command.local.Command(`${name}-${c.name}`, {
                // A one-line stub: a failure shows the check's last lines, not the script (scriptStub).
                create: scriptStub(`${name}-${c.name}`),
                environment,
                triggers: [args.imageRef, c.script],
                logging: "stdoutAndStderr",
            }, { parent: this, dependsOn: args.dependsOn });
        });
        this.gate = [...this.commands];
        this.registerOutputs({ skipped: this.skipped });
    }
}
