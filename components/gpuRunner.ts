import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import {
    DEREGISTER_SCRIPT, INSTALL_SCRIPT, PREFLIGHT_SCRIPT, REGISTER_SCRIPT, RUNNER_RELEASE_URL, RUNNER_SHA256, RUNNER_VERSION, UNREGISTER_SCRIPT,
    SshConnection, deregisterEnv, githubEnv, registerEnv, runnerStdin, sshEnv,
} from "../lib/commands";
import { DEFAULT_GITHUB_API_URL, DEFAULT_RUNNER_MIN_FREE_DISK_GB, RUNNER_DEFAULT_LABELS, RUNNER_FIXED_LABELS, trimUrl } from "../lib/defaults";
import { LayerstackError } from "../lib/errors";
import { githubWebUrl, repositoryVisibility } from "../lib/github";
import { CudaVariant, cudaLabel } from "../lib/variants";

export interface GpuRunnerArgs {
    /** The GPU host, reached with OpenSSH. @example { host: "gpu1.example.com", user: "ci", hostKey: "ssh-ed25519 AAAA...", privateKey: key } */
    readonly connection: SshConnection;
    /** The repository's owner (user or organization). */
    readonly owner: string;
    /** The repository the runner registers with, without the owner. */
    readonly repository: string;
    /** GitHub token with admin on the repository: visibility, registration tokens, deregistration. Must be a secret. */
    readonly githubToken: pulumi.Input<string>;
    /** GitHub's REST API. @default DEFAULT_GITHUB_API_URL ("https://api.github.com") */
    readonly githubApiUrl?: string;
    /** The stack's CUDA variant: its driver minimum gates the preflight, its version names a label. */
    readonly variant: CudaVariant;
    /** Labels beyond self-hosted, linux, x64, gpu and cuda-<version>. @default [] */
    readonly labels?: readonly string[];
    /**
     * Just-in-time runners: a systemd unit on the host fetches a fresh JIT configuration
     * (`generate-jitconfig`) with `jitToken` before each start and runs one job per start.
     * @default false: one persistent runner registered by `config.sh`, run by its service
     */
    readonly ephemeral?: boolean;
    /** The token the host's unit mints JIT configurations with (Administration: write on the repository only). Required when `ephemeral`; must be a secret. @default none */
    readonly jitToken?: pulumi.Input<string>;
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
    /** Free disk the preflight requires under `runnerDir`, in GB. @default DEFAULT_RUNNER_MIN_FREE_DISK_GB (100) */
    readonly minFreeDiskGb?: number;
    /**
     * The runner release: its version, the tarball's sha256, and where `v<version>/actions-runner-linux-x64-<version>.tar.gz` is.
     * @default RUNNER_VERSION, RUNNER_SHA256, RUNNER_RELEASE_URL (GitHub's releases)
     */
    readonly release?: { readonly version?: string; readonly sha256?: string; readonly url?: string };
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
    return [...new Set([...RUNNER_FIXED_LABELS, cudaLabel(variant), ...extra])];
}

export { RUNNER_URN_GLOB } from "../lib/commands";

const HOST_KEY_LINE = /^\S+ [A-Za-z0-9+/]+={0,3}$/;

/** A GpuRunner's own rules, checked before anything is declared (a library user gets them too). */
export function validateGpuRunnerArgs(name: string, args: GpuRunnerArgs, runnerName: string): void {
    const problems: string[] = [];
    if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(runnerName)) problems.push(`GpuRunner ${name}: runner name ${JSON.stringify(runnerName)} must be letters, digits, '.', '_' or '-'`);
    if (!HOST_KEY_LINE.test(args.connection.hostKey)) problems.push(`GpuRunner ${name}: connection.hostKey must be "<type> <base64>", as ssh-keyscan prints it`);
    if ((args.connection.privateKey === undefined) === !args.connection.agent) problems.push(`GpuRunner ${name}: give connection.privateKey or set connection.agent, exactly one`);
    if (args.ephemeral && args.jitToken === undefined) problems.push(`GpuRunner ${name}: ephemeral runners need jitToken`);
    if (!args.ephemeral && args.jitToken !== undefined) problems.push(`GpuRunner ${name}: jitToken is only used by ephemeral runners`);
    if (args.release?.version !== undefined && args.release.sha256 === undefined) problems.push(`GpuRunner ${name}: release.version needs release.sha256`);
    if (problems.length) throw new LayerstackError(problems.join("\n"));
}

/**
 * A self-hosted GitHub Actions runner on an existing GPU host, reached with OpenSSH through
 * local commands (lib/commands/runner.ts says why): preflight (nvidia-smi, driver for the
 * variant's CUDA, Nix, free disk, optionally Docker with the NVIDIA runtime), install of a
 * pinned runner release checked against its sha256, registration, and deregistration on
 * destroy.
 *
 * Nothing here changes between two `up`s of an unchanged stack, so the second runs no command
 * and mints nothing: no token is an input. The registration step asks the host for its
 * current registration first and mints a registration token (GitHub's REST API) only when
 * that differs from the one asked for. A public repository is refused (read on every
 * preview and up, before anything reaches the host).
 */
export class GpuRunner extends pulumi.ComponentResource {
    public readonly runnerName: string;
    /** Every label of the runner, as `runs-on:` can name them. */
    public readonly labels: string[];
    public readonly preflight: command.local.Command;
    public readonly install: command.local.Command;
    public readonly registration: command.local.Command;
    public readonly deregistration: command.local.Command;
    /** The driver version the preflight found. */
    public readonly driverVersion: pulumi.Output<string>;
    public readonly gpuName: pulumi.Output<string>;
    /** What the stack exports about the runner (`gpuRunner`). */
    public readonly summary: { name: string; labels: string[]; driverVersion: pulumi.Output<string>; gpu: pulumi.Output<string> };

    constructor(name: string, args: GpuRunnerArgs, opts?: pulumi.ComponentResourceOptions) {
        const v = args.variant;
        const runnerName = args.runnerName ?? `layerstack-${v.id}-${args.connection.host.split(".")[0].replace(/[^A-Za-z0-9-]/g, "-")}`;
        validateGpuRunnerArgs(name, args, runnerName);
        super("layerstack:index:GpuRunner", name, {}, opts);
        this.runnerName = runnerName;
        this.labels = runnerLabels(v, args.labels);
        const runnerDir = args.runnerDir ?? `~/actions-runner-${this.runnerName}`;
        const release = { version: RUNNER_VERSION, sha256: RUNNER_SHA256, url: RUNNER_RELEASE_URL, ...args.release };
        const fullName = `${args.owner}/${args.repository}`;
        const apiUrl = trimUrl(args.githubApiUrl ?? DEFAULT_GITHUB_API_URL);
        const ssh = sshEnv(args.connection);
        const github = githubEnv({ apiUrl, owner: args.owner, repository: args.repository, token: args.githubToken });
        // A public repository is refused before anything touches the host: the preflight's
        // stdin waits for the visibility, and every later step waits for the preflight.
        const allowed = pulumi.unsecret(pulumi.output(args.githubToken).apply(async (token) => {
            const visibility = await repositoryVisibility(apiUrl, args.owner, args.repository, token);
            checkRepositoryVisibility(fullName, visibility, args.allowPublicRepository ?? false);
            return visibility;
        }));
        const preflightParams = runnerStdin({
            RUNNER_DIR: runnerDir, MIN_DRIVER: v.minDriver, CUDA_VERSION: v.cuda, MIN_FREE_GB: String(args.minFreeDiskGb ?? DEFAULT_RUNNER_MIN_FREE_DISK_GB),
            ...(args.requireDockerGpu ? { CHECK_DOCKER_GPU: "true" } : {}),
        });

        this.preflight = new command.local.Command(`${name}-preflight`, {
            create: PREFLIGHT_SCRIPT,
            environment: ssh,
            stdin: allowed.apply(() => preflightParams),
            logging: "stdoutAndStderr",
        }, { parent: this });
        const facts = this.preflight.stdout.apply((s) => Object.fromEntries(s.split("\n").filter((l) => l.includes("=")).map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)])));
        this.driverVersion = facts.apply((f) => f.driver ?? "");
        this.gpuName = facts.apply((f) => f.gpu ?? "");

        this.install = new command.local.Command(`${name}-install`, {
            create: INSTALL_SCRIPT,
            environment: ssh,
            stdin: runnerStdin({ RUNNER_DIR: runnerDir, RUNNER_VERSION: release.version, RUNNER_SHA256: release.sha256, RUNNER_RELEASE_URL: release.url }),
            logging: "stdoutAndStderr",
        }, { parent: this, dependsOn: [this.preflight] });

        // Removes the runner's entry on GitHub at destroy, or when the name or repository
        // changes (replaceOnChanges); a rotated GitHub token is only an update (a no-op).
        this.deregistration = new command.local.Command(`${name}-deregister`, {
            update: "true",
            delete: DEREGISTER_SCRIPT,
            environment: deregisterEnv(github, this.runnerName),
            triggers: [fullName, this.runnerName],
            logging: "stderr",
        }, { parent: this, replaceOnChanges: ["triggers"], deleteBeforeReplace: true });

        const registerParams = runnerStdin({
            RUNNER_DIR: runnerDir,
            RUNNER_URL: githubWebUrl(apiUrl, fullName),
            RUNNER_NAME: this.runnerName,
            RUNNER_LABELS: this.labels.filter((l) => !RUNNER_DEFAULT_LABELS.includes(l)).join(","),
            RUNNER_EPHEMERAL: String(args.ephemeral ?? false),
            RUNNER_VERSION: release.version,
            GITHUB_API: apiUrl,
            GITHUB_OWNER: args.owner,
            GITHUB_REPOSITORY: args.repository,
        });
        // Labels, mode, version or a rotated token are an update: REGISTER_SCRIPT re-registers in
        // place (`config.sh --replace`, or the JIT unit restarted). Another directory or name
        // is a new runner: the old one leaves the host first (deleteBeforeReplace).
        this.registration = new command.local.Command(`${name}-register`, {
            create: REGISTER_SCRIPT,
            update: REGISTER_SCRIPT,
            delete: UNREGISTER_SCRIPT,
            environment: registerEnv(ssh, github, args.jitToken),
            stdin: registerParams,
            triggers: [runnerDir, this.runnerName],
            logging: "stdoutAndStderr",
        }, { parent: this, dependsOn: [this.install, this.deregistration], deleteBeforeReplace: true });

        this.summary = { name: this.runnerName, labels: this.labels, driverVersion: this.driverVersion, gpu: this.gpuName };
        this.registerOutputs({ runnerName: this.runnerName, labels: this.labels, driverVersion: this.driverVersion, gpuName: this.gpuName });
    }
}
