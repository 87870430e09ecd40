import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as docker from "@pulumi/docker";
import { CheckGate, CheckSpec, checkArgv } from "../lib/checks";
import { DEFAULT_TIMEOUTS } from "../lib/defaults";
import { RUNNER_CHECK_ENV, RUNNER_CHECK_VERDICT_SCRIPT, checkLogTail, imageConfigEnvEnv, runnerCheckVerdictEnv, scriptStub } from "../lib/commands";
import { RegistryAuth } from "../lib/registry";

export interface RunnerChecksArgs {
    /** The layer the checks belong to, for messages. */
    readonly layer: string;
    /**
     * The pushed image, `repo@sha256:...`: the runner pulls exactly what was published.
     * Undefined while the layer was never pushed (outside `--target`), when nothing here is created either.
     */
    readonly imageRef: pulumi.Input<string | undefined>;
    /** The checks, one container and one verdict each. */
    readonly checks: readonly CheckSpec[];
    /** The Docker provider whose host is the GPU runner (`ssh://user@host` or its local socket). */
    readonly provider: docker.Provider;
    /** GPUs each check container gets (`docker run --gpus`). @default "all" */
    readonly gpus?: string;
    /** How long one check may run (a Pulumi custom timeout). @default DEFAULT_TIMEOUTS.check ("30m") */
    readonly timeout?: string;
    /** Resources the pull waits for besides the image (its push, the runner's preflight). @default none */
    readonly dependsOn?: pulumi.Input<pulumi.Resource>[];
    /**
     * The registry the image is in, read on this machine for the image's config
     * (`<name>-image-env`, IMAGE_CONFIG_ENV_SCRIPT): each check then runs in the image's own Env with
     * the GPU's additions appended (CHECK_ENV_JQ). @default none: RUNNER_CHECK_ENV, the
     * environment CHECK_ENV_JQ gives an image with no Env
     */
    readonly registry?: string;
    /** Credentials for `registry`; the password must be a secret Output. @default anonymous */
    readonly registryAuth?: RegistryAuth;
}

/**
 * A layer's smoke checks on the production GPU runner, through @pulumi/docker: the runner
 * pulls the pushed image by digest (`<name>-image`), this machine reads its config's Env from
 * the registry (`<name>-image-env`), then each check runs in its own container with the GPUs
 * and the image's own Env, WorkingDir and User, the GPU's needs appended (`<name>-<check>`,
 * `sh -c <script>` with `sh` found on the image's PATH, or the check's argv; attached: the
 * provider waits for its exit), and a local verdict (`<name>-<check>-verdict`) fails `up` unless the
 * container exited 0, showing the check's last lines. Descendants' pushes and moving tags
 * wait for the verdicts (`gate`).
 *
 * A new digest replaces the pull and every container; a changed script replaces only that
 * check's container (Docker's command is immutable), so it alone runs again.
 */
export class RunnerChecks extends pulumi.ComponentResource implements CheckGate {
    public readonly image: docker.RemoteImage;
    /** Reads the image's config for the checks' environment (`<name>-image-env`); absent without a registry. */
    public readonly env?: command.local.Command;
    public readonly containers: docker.Container[];
    public readonly verdicts: command.local.Command[];
    /** What must pass before the layer counts as checked: every verdict. */
    public readonly gate: pulumi.Resource[];
    /** Checks declared but not run here: none, the runner has GPUs. */
    public readonly skipped: string[] = [];

    constructor(name: string, args: RunnerChecksArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:RunnerChecks", name, {}, opts);
        const child = { parent: this, provider: args.provider };
        const imageRef = pulumi.output(args.imageRef).apply((r) => r ?? "");
        this.image = new docker.RemoteImage(`${name}-image`, {
            name: imageRef,
            // Pulled by digest; removed from the runner when the layer moves on.
            keepLocally: false,
        }, { ...child, dependsOn: args.dependsOn });

        // The image's own Env, read from its config in the registry, with the GPU's additions
        // appended: the checks test the program users run, not one under a PATH of ours.
        let envs: pulumi.Input<string[]> = [...RUNNER_CHECK_ENV];
        if (args.registry !== undefined) {
            this.env = new command.local.Command(`${name}-image-env`, {
                create: scriptStub(`${name}-image-env`),
                environment: imageConfigEnvEnv({ imageRef, registry: args.registry, registryAuth: args.registryAuth }),
                triggers: [args.imageRef],
                logging: "stderr",
            }, { parent: this, dependsOn: args.dependsOn });
            envs = pulumi.unsecret(this.env.stdout).apply((s) => JSON.parse(s) as string[]);
        }

        this.containers = [];
        this.verdicts = [];
        for (const c of args.checks) {
            // Docker finds the first word (`sh` for a script) on the image's PATH, as users' runs do.
            const [program, ...rest] = checkArgv(c);
            const container = new docker.Container(`${name}-${c.name}`, {
                image: this.image.imageId,
                entrypoints: [program],
                command: rest,
                envs,
                gpus: args.gpus ?? "all",
                // No network: a check looks at the image, not the internet (ComfyUI's check uses loopback).
                networkMode: "none",
                // Run to the end and keep the exit code and the log: the verdict reads them.
                attach: true,
                logs: true,
                mustRun: false,
                start: true,
                rm: false,
                labels: [
                    { label: "org.layerstack.layer", value: args.layer },
                    { label: "org.layerstack.check", value: c.name },
                ],
            }, { ...child, customTimeouts: { create: args.timeout ?? `${DEFAULT_TIMEOUTS.check / 60}m` } });
            this.containers.push(container);
            this.verdicts.push(new command.local.Command(`${name}-${c.name}-verdict`, {
                create: RUNNER_CHECK_VERDICT_SCRIPT,
                environment: runnerCheckVerdictEnv({
                    layer: args.layer,
                    check: c.name,
                    imageRef,
                    exitCode: container.exitCode.apply((code) => (code === undefined || code === null ? "" : String(code))),
                    logs: container.containerLogs.apply((l) => checkLogTail(l)),
                    containerUrn: container.urn,
                }),
                // A new container (new digest or script) is a new verdict.
                triggers: [container.id],
                logging: "stdoutAndStderr",
            }, { parent: this }));
        }
        this.gate = [...this.verdicts];
        this.registerOutputs({ skipped: this.skipped });
    }
}
