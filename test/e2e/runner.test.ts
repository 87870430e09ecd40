// The GPU runner on the real engine against a real sshd: Debian's openssh-server on 127.0.0.1
// (test/support/gpuHost.ts) with a throwaway host key, user and key, a stand-in nvidia-smi, a
// stand-in runner release whose config.sh/run.sh/svc.sh record their calls, and a stand-in of
// GitHub's REST endpoints (test/support/github-standin.js). The stack is the project's own
// program with a runner, applied the way the README says: `pulumi up --target
// RUNNER_URN_GLOB` (npm run runner). No GitHub or Docker provider is needed.
//
// The order matters and each test builds on the previous: refusals first (a different host
// key, an old driver), then up (one registration), an unchanged up (nothing runs, nothing is
// minted), a label change (CI's `--exclude` leaves it alone; the runner up re-registers once),
// and destroy (one removal). Every run is sampled for tokens and keys in any argv.
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { RUNNER_URN_GLOB } from "../../components/gpuRunner";
import { RUNNER_VERSION } from "../../lib/commands/runner";
import { dockerSshBaseOptions, writeKeyFile } from "../../lib/dockerSsh";
import { ArgvSampler, makeArgvShims, readArgvLog } from "../support/argv";
import { GithubStandin, sha16 } from "../support/githubStandin";
import { GpuHost, makeRunnerRelease } from "../support/gpuHost";
import { Run, TestProject, must } from "../support/stack";

const GH_TOKEN = `ghp_sentinel${crypto.randomBytes(12).toString("hex")}`;
const REG_PREFIX = `AREGSENTINEL${crypto.randomBytes(4).toString("hex").toUpperCase()}`;
const api = new GithubStandin(5700, { tokens: [GH_TOKEN], repo: "owner/megapak", tokenPrefix: REG_PREFIX });
const host = new GpuHost(5701, api.url);
const project = new TestProject("runner");
// The local scripts' private directories (mktemp -d) land here, so the test can look for leftovers.
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-runner-tmp-"));
project.env.TMPDIR = tmp;
// Every program the local scripts hand data to logs its argv (the sampler can miss a 10 ms curl).
const argvLog = path.join(project.dir, "local-argv.log");
project.env.PATH = `${makeArgvShims(path.join(project.dir, "argv-shims"), ["ssh", "curl", "node", "sed", "grep", "cat", "mktemp", "rm"], argvLog)}:${project.env.PATH}`;
const NAME = "layerstack-cu130-127";
const runs: { name: string; run: Run; sampler: ArgvSampler }[] = [];
let dockerLogins = 0;

/** Distinctive parts of every secret: the GitHub token, any minted registration token, the SSH key's body. */
const needles = () => ({ "GitHub token": GH_TOKEN, "registration token": REG_PREFIX, "SSH key": host.privateKey.split("\n")[1] });

async function pulumi(name: string, args: string[], opts: { runnerOnly?: boolean } = {}): Promise<Run> {
    const sampler = new ArgvSampler(needles());
    sampler.start();
    if (opts.runnerOnly) project.env.LAYERSTACK_RUNNER_ONLY = "1";
    try {
        const run = await project.pulumiAsync(args).done;
        runs.push({ name, run, sampler });
        return run;
    } finally {
        sampler.stop();
        delete project.env.LAYERSTACK_RUNNER_ONLY;
    }
}
/** What `npm run runner` runs (scripts/runner.sh; its exact command is checked in lib/commands/runner.test.ts). */
const runnerUp = (name: string, extra: string[] = []) => pulumi(name, ["up", "--yes", "--skip-preview", "--target", RUNNER_URN_GLOB, ...extra], { runnerOnly: true });
const mints = () => api.apiRequests().filter((r) => r.method === "POST" && r.path.endsWith("/actions/runners/registration-token"));
const tool = (t: string) => host.calls().filter((c) => c.tool === t);
const out = (r: Run) => r.stdout + r.stderr;

beforeAll(() => {
    api.start();
    host.start();
    const sha = makeRunnerRelease(api.releases, RUNNER_VERSION, host);
    project.init({
        "layerstack:flake": `path:${project.flakeDir}`,
        "layerstack:registry": "127.0.0.1:5999",
        "layerstack:repository": "layerstack/megapak",
        "layerstack:variant": "cu130",
        "layerstack:runChecks": "false",
        "layerstack:checksOn": "local",
        "layerstack:githubOwner": "owner",
        "layerstack:githubRepository": "megapak",
        "layerstack:githubApiUrl": api.url,
        "layerstack:runnerHost": `${host.user}@127.0.0.1:${host.port}`,
        // Another machine's key first: the first test expects the refusal.
        "layerstack:runnerHostKey": host.otherHostKey,
        "layerstack:runnerLabels": ["h100"],
        "layerstack:runnerMinFreeDiskGb": "1",
        "layerstack:runnerReleaseUrl": `${api.url}/releases/download`,
        "layerstack:runnerReleaseSha256": sha,
    }, { "layerstack:githubToken": GH_TOKEN, "layerstack:runnerSshKey": host.privateKey });
});

afterAll(() => {
    host.dispose();
    api.dispose();
    project.dispose();
    fs.rmSync(tmp, { recursive: true, force: true });
});

test("a host presenting another key is refused: no login, nothing on the host, no token minted", async () => {
    const r = await runnerUp("wrong host key");
    expect(r.code).not.toBe(0);
    expect(out(r)).toContain("Host key verification failed.");
    expect(out(r)).toContain("runner-cu130-preflight");
    expect(host.logins()).toBe(0);
    expect(host.calls()).toEqual([]);
    expect(mints()).toEqual([]);
    // The program read the repository's visibility (it mints nothing), and nothing else.
    expect(api.apiRequests().map((q) => `${q.method} ${q.path}`)).toEqual(["GET /repos/owner/megapak"]);
    project.setConfig("layerstack:runnerHostKey", host.hostKey);
});

test("the preflight refuses a driver too old for CUDA 13.0: nothing installed, no token minted", async () => {
    host.setDriver("570.124.06");
    const r = await runnerUp("old driver");
    expect(r.code).not.toBe(0);
    expect(out(r)).toContain("NVIDIA driver 570.124.06 is too old for CUDA 13.0, which needs >= 580.65.06");
    expect(host.logins()).toBe(1);
    expect(fs.existsSync(host.runnerDir(NAME))).toBe(false);
    expect(host.calls()).toEqual([]);
    expect(mints()).toEqual([]);
    host.setDriver("580.82.07");
});

test("up: preflight, install of the pinned tarball, one registration with a freshly minted token", async () => {
    const r = await runnerUp("up");
    expect(out(r)).toContain("registration token minted");
    expect(r.code).toBe(0);
    expect(project.outputs().gpuRunner).toEqual({ name: NAME, labels: ["self-hosted", "linux", "x64", "gpu", "cuda-13.0", "h100"], driverVersion: "580.82.07", gpu: "NVIDIA H100 80GB HBM3" });
    // The pinned file name, downloaded once, checked against its sha256.
    const downloads = api.requests().filter((q) => q.path.startsWith("/releases/"));
    expect(downloads.map((q) => `${q.path} ${q.status}`)).toEqual([`/releases/download/v${RUNNER_VERSION}/actions-runner-linux-x64-${RUNNER_VERSION}.tar.gz 200`]);
    expect(fs.readFileSync(path.join(host.runnerDir(NAME), ".layerstack-version"), "utf8")).toMatch(new RegExp(`^${RUNNER_VERSION} [0-9a-f]{64}\\n$`));

    // One token minted; config.sh got exactly it, in ACTIONS_RUNNER_INPUT_TOKEN, not in argv.
    expect(mints()).toHaveLength(1);
    const config = tool("config");
    expect(config).toHaveLength(1);
    expect(config[0].argv).toEqual(["--unattended", "--replace", "--url", `${api.url}/owner/megapak`, "--name", NAME, "--labels", "gpu,cuda-13.0,h100", "--work", "_work"]);
    expect(config[0].token).toBe(mints()[0].minted);
    expect(config[0].env).toContain("ACTIONS_RUNNER_INPUT_TOKEN");
    expect(config[0].env.filter((e) => /TOKEN|KEY/.test(e))).toEqual(["ACTIONS_RUNNER_INPUT_TOKEN"]);
    // The runner user's PATH, as config.sh records it for the jobs: the SSH session's, Nix's profiles first,
    // ~/.nix-profile/bin although this fresh user has none yet (cachix-action installs cachix there later).
    expect(fs.existsSync(path.join(host.home, ".nix-profile"))).toBe(false);
    expect(config[0].path).toBe([path.join(host.home, ".nix-profile/bin"), "/nix/var/nix/profiles/default/bin", host.sessionPath()].join(":"));
    expect(fs.readFileSync(path.join(host.runnerDir(NAME), ".path"), "utf8")).toBe(config[0].path + "\n");
    // The host's ldconfig listed no libicu, as on a minimal host: the install ran the release's
    // bin/installdependencies.sh through sudo, once, before config.sh (which would have stopped).
    expect(out(r)).toContain("its .NET dependencies are missing (libicu): running sudo ./bin/installdependencies.sh");
    expect(tool("installdependencies")).toHaveLength(1);
    // GitHub saw one registration with those labels; the service was installed and started.
    const registered = api.requests().filter((q) => q.path === "/_standin/register");
    expect(registered.map((q) => [q.status, q.runner, q.labels, q.replaced])).toEqual([[200, NAME, ["self-hosted", "Linux", "X64", "gpu", "cuda-13.0", "h100"], false]]);
    expect(tool("svc").map((c) => c.argv[0])).toEqual(["install", "start"]);
    expect(tool("sudo").map((c) => c.argv.join(" "))).toEqual(["-n ./bin/installdependencies.sh", `-n ./svc.sh install ${host.user}`, "-n ./svc.sh start"]);
});

test("a preview of the whole stack, runner included, makes no SSH connection to the GPU host", async () => {
    // sshd logs every connection (LogLevel VERBOSE), accepted or not.
    const connections = host.connections();
    expect(connections).toBeGreaterThanOrEqual(3);
    const r = await pulumi("preview with the runner", ["preview", "--json", "--show-sames"]);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
    const steps = JSON.parse(r.stdout).steps as { op: string; urn: string }[];
    expect(steps.some((s) => s.urn.endsWith("::runner-cu130-register"))).toBe(true);
    expect(host.connections()).toBe(connections);
});

test("the Docker checks' ssh options (lib/dockerSsh.ts) reach the runner with the same key, and refuse another host key", () => {
    // docker/cli's connhelper runs `ssh <sshOpts> -p <port> -- <user@host> docker system dial-stdio`; here the command is echo.
    const keyDir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-docker-ssh-"));
    fs.rmdirSync(keyDir);
    try {
        const file = writeKeyFile(keyDir, host.privateKey, undefined);
        const auth = ["-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i", file];
        const before = host.logins();
        const ok = spawnSync("ssh", [...dockerSshBaseOptions(host.hostKey), ...auth, "-p", String(host.port), "--", `${host.user}@127.0.0.1`, "echo", "dial-stdio"], { encoding: "utf8" });
        expect(ok.stderr).toBe("");
        expect(ok.stdout).toBe("dial-stdio\n");
        const refused = spawnSync("ssh", [...dockerSshBaseOptions(host.otherHostKey), ...auth, "-p", String(host.port), "--", `${host.user}@127.0.0.1`, "echo", "dial-stdio"], { encoding: "utf8" });
        expect(refused.status).toBe(255);
        expect(refused.stderr).toContain("Host key verification failed.");
        expect(refused.stdout).toBe("");
        dockerLogins = host.logins() - before;
        expect(dockerLogins).toBe(1);
    } finally {
        fs.rmSync(keyDir, { recursive: true, force: true });
    }
});

test("an unchanged stack: `up --expect-no-changes` passes, with no login, no command and no token", async () => {
    const logins = host.logins();
    const calls = host.calls().length;
    const argv = host.argv().length;
    const before = api.apiRequests().length;
    const r = await runnerUp("unchanged up", ["--expect-no-changes"]);
    expect(out(r)).not.toContain("error");
    expect(r.code).toBe(0);
    expect(host.logins()).toBe(logins);
    expect(host.calls()).toHaveLength(calls);
    expect(host.argv()).toHaveLength(argv);
    expect(mints()).toHaveLength(1);
    expect(api.apiRequests().slice(before).map((q) => `${q.method} ${q.path}`)).toEqual(["GET /repos/owner/megapak"]);
});

test("a label change: CI's up (--exclude RUNNER_URN_GLOB) leaves the runner alone; the runner's up re-registers once", async () => {
    project.setConfig("layerstack:runnerLabels", ["h100", "nvlink"]);
    const runnerSteps = (r: Run) => (JSON.parse(r.stdout).steps as { op: string; urn: string }[])
        .filter((s) => s.urn.includes("layerstack:index:GpuRunner") && s.op !== "same").map((s) => `${s.op} ${s.urn.split("::").pop()}`);
    const ci = await pulumi("CI preview", ["preview", "--json", "--exclude", RUNNER_URN_GLOB]);
    expect(ci.stderr).toBe("");
    expect(runnerSteps(ci)).toEqual([]);
    // The layers are CI's to build: its preview plans them.
    expect((JSON.parse(ci.stdout).steps as { op: string; urn: string }[]).some((s) => s.op === "create" && s.urn.endsWith("::layer01-base-cuda-build"))).toBe(true);
    const workstation = await pulumi("runner preview", ["preview", "--json", "--target", RUNNER_URN_GLOB], { runnerOnly: true });
    expect(runnerSteps(workstation)).toEqual(["update runner-cu130-register"]);

    const r = await runnerUp("label change");
    expect(r.code).toBe(0);
    expect(mints()).toHaveLength(2);
    const config = tool("config");
    expect(config).toHaveLength(2);
    expect(config[1].argv).toEqual(["--unattended", "--replace", "--url", `${api.url}/owner/megapak`, "--name", NAME, "--labels", "gpu,cuda-13.0,h100,nvlink", "--work", "_work"]);
    expect(config[1].token).toBe(mints()[1].minted);
    expect(tool("svc").map((c) => c.argv[0])).toEqual(["install", "start", "stop", "uninstall", "install", "start"]);
    const registered = api.requests().filter((q) => q.path === "/_standin/register");
    expect(registered.map((q) => [q.labels, q.replaced])).toEqual([
        [["self-hosted", "Linux", "X64", "gpu", "cuda-13.0", "h100"], false],
        [["self-hosted", "Linux", "X64", "gpu", "cuda-13.0", "h100", "nvlink"], true],
    ]);
    // Nothing was deregistered: the same runner, relabelled.
    expect(api.apiRequests().filter((q) => q.method === "DELETE")).toEqual([]);
    expect(project.outputs().gpuRunner.labels).toEqual(["self-hosted", "linux", "x64", "gpu", "cuda-13.0", "h100", "nvlink"]);
});

test("destroy: the service leaves the host and the runner leaves GitHub, once each", async () => {
    const r = await pulumi("destroy", ["destroy", "--yes", "--skip-preview"]);
    expect(r.code).toBe(0);
    expect(tool("svc").map((c) => c.argv[0]).slice(-2)).toEqual(["stop", "uninstall"]);
    const deletes = api.apiRequests().filter((q) => q.method === "DELETE");
    expect(deletes.map((q) => [q.status, q.runner])).toEqual([[204, NAME]]);
    expect(fs.existsSync(path.join(host.runnerDir(NAME), ".runner"))).toBe(false);
    expect(mints()).toHaveLength(2);
    expect(project.resources().filter((res) => !res.type.startsWith("pulumi:"))).toEqual([]);
});

test("npm run runner needs no Docker where it runs: the checks' Docker provider is not declared then", async () => {
    // A stack whose checks run in Docker on the runner's local socket (CI's `up` runs there). This
    // machine has no Docker provider plugin, as a workstation may have no Docker.
    project.setConfig("layerstack:runChecks", "true");
    project.setConfig("layerstack:checksOn", "runner");
    project.setConfig("layerstack:checksDockerHost", "unix:///var/run/docker.sock");
    const full = await pulumi("full preview with Docker checks", ["preview", "--target", RUNNER_URN_GLOB]);
    expect(full.code).not.toBe(0);
    expect(out(full)).toContain("pulumi-resource-docker");
    const r = await pulumi("runner preview with Docker checks", ["preview", "--json", "--target", RUNNER_URN_GLOB], { runnerOnly: true });
    expect(r.stderr).toBe("");
    const steps = JSON.parse(r.stdout).steps as { op: string; urn: string }[];
    expect(steps.filter((s) => s.op === "create" && s.urn.includes("GpuRunner$command:local:Command")).map((s) => s.urn.split("::").pop()).sort()).toEqual([
        "runner-cu130-deregister", "runner-cu130-install", "runner-cu130-preflight", "runner-cu130-register",
    ]);
    expect(steps.filter((s) => /docker|check/i.test(s.urn))).toEqual([]);
});

test("no token and no key in any argv, any output, the stack's files or a leftover temporary file", async () => {
    expect(runs.map((x) => x.name)).toEqual([
        "wrong host key", "old driver", "up", "preview with the runner", "unchanged up", "CI preview", "runner preview", "label change", "destroy",
        "full preview with Docker checks", "runner preview with Docker checks",
    ]);
    for (const { name, run, sampler } of runs) {
        expect(sampler.samples).toBeGreaterThan(10);
        expect({ name, hits: sampler.hits }).toEqual({ name, hits: [] });
        for (const [label, n] of Object.entries(needles())) expect({ name, label, leaked: out(run).includes(n) }).toEqual({ name, label, leaked: false });
    }
    // Every call of ssh, curl, node... here and of sh, curl, tar, install... on the host: none holds a secret.
    const local = readArgvLog(argvLog);
    const remote = host.argv();
    expect(local.filter((a) => a[0] === "ssh").length).toBeGreaterThanOrEqual(8);
    expect(local.filter((a) => a[0] === "curl").length).toBeGreaterThanOrEqual(4);
    expect(remote.filter((a) => a[0] === "sh" && a[1] === "-s").length).toBe(host.logins() - dockerLogins);
    expect(remote.some((a) => a[0] === "curl" && a.some((x) => x.includes("/releases/download/")))).toBe(true);
    for (const [label, n] of Object.entries(needles())) {
        expect({ label, local: local.filter((a) => a.some((x) => x.includes(n))) }).toEqual({ label, local: [] });
        expect({ label, remote: remote.filter((a) => a.some((x) => x.includes(n))) }).toEqual({ label, remote: [] });
        expect(fs.readFileSync(argvLog, "latin1").includes(n) || fs.readFileSync(host.argvLog, "latin1").includes(n)).toBe(false);
    }
    // The sampler saw the engine, the command provider and ssh at work.
    const seen = new Set(runs.flatMap((x) => [...x.sampler.seen]));
    expect(seen).toContain("pulumi");
    expect([...seen].some((p) => p.startsWith("pulumi-resource-command"))).toBe(true);
    expect(seen).toContain("ssh");
    // The secrets are in the state, encrypted: export --show-secrets decrypts the GitHub token.
    for (const n of Object.values(needles())) expect(project.filesContaining(n, project.dir)).toEqual([]);
    // Each SSH step's private directory went away with its ssh.
    await new Promise((r) => setTimeout(r, 1500));
    expect(project.filesContaining(host.privateKey.split("\n")[1], tmp)).toEqual([]);
    expect(fs.readdirSync(tmp)).toEqual([]);
    // And a runner's registration token never reached the project's stack config either (sanity: the config holds ciphertext).
    expect(must(project.pulumi(["config", "get", "layerstack:githubToken"]), "config get").stdout.trim()).toBe(GH_TOKEN);
});
