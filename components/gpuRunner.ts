import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import * as github from "@pulumi/github";
import {
    DEREGISTER_SCRIPT, INSTALL_SCRIPT, PREFLIGHT_SCRIPT, REGISTER_SCRIPT, RUNNER_SHA256, RUNNER_VERSION, UNREGISTER_HOST_SCRIPT, runnerStdin,
} from "../lib/commands";
import { LayerstackError } from "../lib/errors";
import { CudaVariant, cudaLabel } from "../lib/variants";

export interface GpuRunnerArgs {
    /** The GPU host, reached over SSH. Without `privateKey`, the SSH agent (SSH_AUTH_SOCK) is used. */
    readonly connection: {
        readonly host: string;
        readonly user: string;
        /** @default 22 */
        readonly port?: number;
        /** Private key; must be a secret. @default none (SSH agent) */
        readonly privateKey?: pulumi.Input<string>;
    };
    readonly owner: string;
    readonly repository: string;
    /** The GitHub provider the registration token and the repository's visibility are read with. */
    readonly provider: github.Provider;
    /** The stack's CUDA variant: its driver minimum gates the preflight, its version names a label. */
    readonly variant: CudaVariant;
    /** Labels beyond self-hosted, linux, x64, gpu and cuda-<version>. @default [] */
    readonly labels?: readonly string[];
    /** One job per registration (`config.sh --ephemeral`); the next `up` registers again. @default false */
    readonly ephemeral?: boolean;
    /**
     * Allow a public repository. GitHub's "Security hardening for GitHub Actions" advises that
     * self-hosted runners should almost never be used for public repositories. @default false
     */
    readonly allowPublicRepository?: boolean;
    /** The runner's name on GitHub. @default `layerstack-<variant>-<first label of host>` */
    readonly runnerName?: string;
    /** Where the runner is installed on the host. @default `~/actions-runner-<runnerName>` */
    readonly runnerDir?: string;
    /**
     * Whether the preflight also requires Docker with NVIDIA GPU support for the SSH user,
     * because the layers' smoke checks run there in containers (RunnerChecks). @default false
     */
    readonly requireDockerGpu?: boolean;
    /** Free disk the preflight requires under `runnerDir`, in GB. @default 100 */
    readonly minFreeDiskGb?: number;
    /** Runner release and its tarball's sha256. @default RUNNER_VERSION, RUNNER_SHA256 */
    readonly runnerVersion?: { readonly version: string; readonly sha256: string };
    /** GitHub REST API base, for deregistration on destroy. @default "https://api.github.com" */
    readonly githubApiUrl?: string;
    /** The GitHub token the deregistration uses; must be a secret. */
    readonly githubToken: pulumi.Input<string>;
}

const HARDENING = "https://docs.github.com/en/actions/security-for-github-actions/security-guides/security-hardening-for-github-actions#hardening-for-self-hosted-runners";

/** Refuses a public repository unless allowed, citing GitHub's hardening guide. */
export function checkRepositoryVisibility(fullName: string, visibility: string, allowPublicRepository: boolean): void {
    if (visibility === "public" && !allowPublicRepository) {
        throw new LayerstackError(
            `layerstack:allowPublicRepository: ${fullName} is public, and GitHub's "Security hardening for GitHub Actions" advises that ` +
            `self-hosted runners should almost never be used for public repositories (any pull request could run code on the GPU host): ` +
            `${HARDENING}. Set layerstack:allowPublicRepository to true to register anyway.`);
    }
}

/** The labels a runner gets: the fixed ones, the CUDA version's, then the extra ones. */
export function runnerLabels(variant: CudaVariant, extra: readonly string[] = []): string[] {
    return [...new Set(["self-hosted", "linux", "x64", "gpu", cudaLabel(variant), ...extra])];
}

/**
 * A self-hosted GitHub Actions runner on an existing GPU host, over SSH: preflight
 * (nvidia-smi, driver for the variant's CUDA, Nix, free disk), install of a pinned runner
 * release with its checksum, registration as a service, and deregistration on destroy.
 *
 * The registration token comes from @pulumi/github's invoke, is a secret, and reaches the
 * host on stdin only. A fresh token every `up` changes the registration's stdin, so its
 * update runs, but the script leaves an identically-configured runner registered (it only
 * makes sure the service runs); it registers again only when the URL, name, labels,
 * mode or runner version change, or an ephemeral runner has used its registration.
 */
export class GpuRunner extends pulumi.ComponentResource {
    public readonly runnerName: string;
    /** Every label of the runner, as `runs-on:` can name them. */
    public readonly labels: string[];
    public readonly preflight: command.remote.Command;
    public readonly install: command.remote.Command;
    public readonly registration: command.remote.Command;
    public readonly deregistration: command.local.Command;
    /** The driver version the preflight found. */
    public readonly driverVersion: pulumi.Output<string>;
    public readonly gpuName: pulumi.Output<string>;

    constructor(name: string, args: GpuRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:GpuRunner", name, {}, opts);
        const v = args.variant;
        this.runnerName = args.runnerName ?? `layerstack-${v.id}-${args.connection.host.split(".")[0].replace(/[^A-Za-z0-9-]/g, "-")}`;
        if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(this.runnerName)) throw new LayerstackError(`GpuRunner ${name}: runner name ${JSON.stringify(this.runnerName)} must be letters, digits, '.', '_' or '-'`);
        this.labels = runnerLabels(v, args.labels);
        const runnerDir = args.runnerDir ?? `~/actions-runner-${this.runnerName}`;
        const release = args.runnerVersion ?? { version: RUNNER_VERSION, sha256: RUNNER_SHA256 };
        const fullName = `${args.owner}/${args.repository}`;
        const connection: command.types.input.remote.ConnectionArgs = {
            host: args.connection.host,
            port: args.connection.port ?? 22,
            user: args.connection.user,
            ...(args.connection.privateKey !== undefined ? { privateKey: pulumi.secret(args.connection.privateKey) } : {}),
        };
        const invokeOpts = { provider: args.provider, parent: this };
        // A public repository is refused before anything touches the host: the preflight's
        // input waits for the visibility check, and every later step waits for the preflight.
        const repo = github.getRepositoryOutput({ fullName }, invokeOpts);
        const allowed = repo.visibility.apply((visibility) => {
            checkRepositoryVisibility(fullName, visibility, args.allowPublicRepository ?? false);
            return visibility;
        });
        const preflightParams = runnerStdin({
            RUNNER_DIR: runnerDir, MIN_DRIVER: v.minDriver, CUDA_VERSION: v.cuda, MIN_FREE_GB: String(args.minFreeDiskGb ?? 100),
            ...(args.requireDockerGpu ? { CHECK_DOCKER_GPU: "true" } : {}),
        });

        this.preflight = new command.remote.Command(`${name}-preflight`, {
            connection,
            create: PREFLIGHT_SCRIPT,
            stdin: allowed.apply(() => preflightParams),
            logging: "stdoutAndStderr",
        }, { parent: this });
        const facts = this.preflight.stdout.apply((s) => Object.fromEntries(s.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])));
        this.driverVersion = facts.apply((f) => f.driver ?? "");
        this.gpuName = facts.apply((f) => f.gpu ?? "");

        this.install = new command.remote.Command(`${name}-install`, {
            connection,
            create: INSTALL_SCRIPT,
            stdin: runnerStdin({ RUNNER_DIR: runnerDir, RUNNER_VERSION: release.version, RUNNER_SHA256: release.sha256 }),
            logging: "stdoutAndStderr",
        }, { parent: this, dependsOn: [this.preflight] });

        // Removes the runner's entry on GitHub at destroy, or when the name or repository
        // changes (replaceOnChanges); a rotated GitHub token is only an update (a no-op).
        this.deregistration = new command.local.Command(`${name}-deregister`, {
            update: "true",
            delete: DEREGISTER_SCRIPT,
            environment: {
                LAYERSTACK_GITHUB_API: (args.githubApiUrl ?? "https://api.github.com").replace(/\/+$/, ""),
                LAYERSTACK_GITHUB_OWNER: args.owner,
                LAYERSTACK_GITHUB_REPOSITORY: args.repository,
                LAYERSTACK_RUNNER_NAME: this.runnerName,
                LAYERSTACK_GITHUB_TOKEN: pulumi.secret(args.githubToken),
            },
            triggers: [fullName, this.runnerName],
            logging: "stderr",
        }, { parent: this, replaceOnChanges: ["triggers"], deleteBeforeReplace: true });

        const token = github.getActionsRegistrationTokenOutput({ repository: args.repository }, invokeOpts);
        const params = runnerStdin({
            RUNNER_DIR: runnerDir,
            RUNNER_URL: `https://github.com/${fullName}`,
            RUNNER_NAME: this.runnerName,
            RUNNER_LABELS: this.labels.filter((l) => !["self-hosted", "linux", "x64"].includes(l)).join(","),
            RUNNER_EPHEMERAL: String(args.ephemeral ?? false),
            RUNNER_VERSION: release.version,
        });
        const stdin = pulumi.secret(pulumi.all([allowed, pulumi.secret(token.token)]).apply(([, t]) => params + runnerStdin({ RUNNER_TOKEN: t })));
        this.registration = new command.remote.Command(`${name}-register`, {
            connection,
            create: REGISTER_SCRIPT,
            update: REGISTER_SCRIPT,
            delete: UNREGISTER_HOST_SCRIPT,
            stdin,
            // The token is in stdin only; no output repeats it, and nothing is logged.
            logging: "none",
            triggers: [runnerDir, this.runnerName, ...this.labels, String(args.ephemeral ?? false), release.version],
        }, { parent: this, dependsOn: [this.install, this.deregistration], additionalSecretOutputs: ["stdin"] });

        this.registerOutputs({ runnerName: this.runnerName, labels: this.labels, driverVersion: this.driverVersion, gpuName: this.gpuName });
    }
}
