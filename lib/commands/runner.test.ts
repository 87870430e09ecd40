// The GPU runner's scripts, run for real with sh:
// - the host scripts (preflight; the ephemeral mode's registration, systemd unit and JIT
//   service) against stand-in host tools on a PATH of their own and a stand-in of GitHub's
//   REST endpoints;
// - the local scripts against a fake `ssh` that records its argv, its stdin (the program the
//   host's `sh -s` would run) and the key and known_hosts files it was given.
// docs/gpu/ records the preflight on a real GPU host; test/e2e/runner.test.ts runs the whole
// path against a real sshd.
import { spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import {
    INSTALL_REMOTE, INSTALL_SCRIPT, JIT_CONFIG_SCRIPT, JIT_REFUSED_STATUS, RUNNER_URN_GLOB, JIT_RUN_SCRIPT, PREFLIGHT_REMOTE, PREFLIGHT_SCRIPT, REGISTER_REMOTE, REGISTER_SCRIPT,
    STATE_REMOTE, UNREGISTER_SCRIPT, hostProgram, runnerStdin,
} from "./runner";
import { GithubStandin, sha16 } from "../../test/support/githubStandin";
import { makeArgvShims, readArgvLog } from "../../test/support/argv";

const root = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-runner-scripts-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A PATH dir with the base tools the scripts use, plus the given stand-ins (name -> sh body). */
function host(name: string, tools: Record<string, string>, base = ["sh", "hostname", "sort", "head", "tr", "df", "awk", "dirname", "id", "cat", "sed", "timeout", "setpriv"]): string {
    const dir = path.join(root, name);
    fs.mkdirSync(dir);
    for (const t of base) {
        const real = spawnSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).stdout.trim();
        fs.symlinkSync(real, path.join(dir, t));
    }
    for (const [t, body] of Object.entries(tools)) fs.writeFileSync(path.join(dir, t), `#!/bin/sh\n${body}\n`, { mode: 0o755 });
    return dir;
}

const NVIDIA_SMI = (driver: string) => `case "$*" in *driver_version*) echo ${driver} ;; *name*) echo "NVIDIA H100 80GB HBM3" ;; esac`;
const NIX = `echo "nix (Nix) 2.24.9"`;
const SKOPEO = (version: string) => `echo "skopeo version ${version}"`;
const DOCKER = (runtimes: string) => `case "$1" in version) echo 27.3.1 ;; info) echo '${runtimes}' ;; esac`;

function preflight(pathDir: string, extra: Record<string, string> = {}) {
    const params = runnerStdin({ RUNNER_DIR: path.join(root, "home", "actions-runner"), MIN_DRIVER: "580.65.06", CUDA_VERSION: "13.0", MIN_FREE_GB: "0", ...extra });
    const r = spawnSync(path.join(pathDir, "sh"), ["-s"], { input: hostProgram(PREFLIGHT_REMOTE, params), encoding: "utf8", env: { PATH: pathDir, HOME: root } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe("runner preflight (PREFLIGHT_REMOTE as the host's sh -s runs it)", () => {
    test("a host with a new enough driver and Nix passes and reports its facts", () => {
        const r = preflight(host("ok", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, skopeo: SKOPEO("1.13.3") }));
        expect(r.stderr).toBe("");
        expect(r.code).toBe(0);
        expect(r.stdout).toMatch(/^driver=580\.82\.07\ngpu=NVIDIA H100 80GB HBM3\nnix=nix \(Nix\) 2\.24\.9\nskopeo=1\.13\.3\nfree_gb=\d+\n$/);
    });

    test("each missing or too old part fails with a message that names it", () => {
        const cases: [string, Record<string, string>, Record<string, string>, string][] = [
            ["nosmi", { nix: NIX }, {}, "nvidia-smi not found: install the NVIDIA driver >= 580.65.06 (needed by CUDA 13.0)"],
            ["olddriver", { "nvidia-smi": NVIDIA_SMI("570.124.06"), nix: NIX, skopeo: SKOPEO("1.9.3") }, {}, "NVIDIA driver 570.124.06 is too old for CUDA 13.0, which needs >= 580.65.06"],
            ["baddriver", { "nvidia-smi": NVIDIA_SMI("NVIDIA-SMI has failed"), nix: NIX }, {}, "nvidia-smi did not report a driver version"],
            ["nonix", { "nvidia-smi": NVIDIA_SMI("580.82.07") }, {}, "Nix is not installed"],
            ["nodisk", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, skopeo: SKOPEO("1.9.3") }, { MIN_FREE_GB: "99999999" }, "the runner needs 99999999 GB"],
            ["nodocker", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, skopeo: SKOPEO("1.9.3") }, { CHECK_DOCKER_GPU: "true" }, "docker not found: the layers' smoke checks run in Docker containers here"],
            ["nodaemon", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, skopeo: SKOPEO("1.9.3"), docker: "echo 'permission denied while trying to connect to the Docker daemon socket' >&2; exit 1" }, { CHECK_DOCKER_GPU: "true" },
                "docker cannot reach its daemon as"],
            ["noruntime", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, skopeo: SKOPEO("1.9.3"), docker: DOCKER('{"runc":{"path":"runc"}}') }, { CHECK_DOCKER_GPU: "true" },
                "Docker has no nvidia runtime and nvidia-ctk is missing: install the NVIDIA Container Toolkit"],
        ];
        for (const [name, tools, extra, message] of cases) {
            const r = preflight(host(name, tools), extra);
            expect({ name, code: r.code, stdout: r.stdout }).toEqual({ name, code: 1, stdout: "" });
            expect(r.stderr).toContain("GPU runner preflight on ");
            expect(r.stderr).toContain(message);
        }
    });

    test("what the CI up on the host needs: a missing skopeo, timeout or setpriv is named, and a skopeo too old for --preserve-digests", () => {
        const gpu = { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX };
        const base = ["sh", "hostname", "sort", "head", "tr", "df", "awk", "dirname", "id", "cat", "sed"];
        const cases: [string, Record<string, string>, string[], string][] = [
            ["noskopeo", gpu, [...base, "timeout", "setpriv"], ": skopeo;"],
            ["notimeout", { ...gpu, skopeo: SKOPEO("1.13.3") }, [...base, "setpriv"], ": timeout;"],
            ["nosetpriv", { ...gpu, skopeo: SKOPEO("1.13.3") }, [...base, "timeout"], ": setpriv;"],
            ["none", gpu, base, ": skopeo timeout setpriv;"],
            ["oldskopeo", { ...gpu, skopeo: SKOPEO("1.4.1") }, [...base, "timeout", "setpriv"], "skopeo 1.4.1 is too old: the promotion's skopeo copy --preserve-digests needs skopeo >= 1.6.0"],
            ["oddskopeo", { ...gpu, skopeo: "echo 'something else'" }, [...base, "timeout", "setpriv"], "skopeo --version did not report a version"],
        ];
        for (const [name, tools, baseTools, message] of cases) {
            const dir = host(name, tools, baseTools);
            const r = preflight(dir);
            expect({ name, code: r.code, stdout: r.stdout }).toEqual({ name, code: 1, stdout: "" });
            expect(r.stderr).toContain("GPU runner preflight on ");
            expect(r.stderr).toContain(message);
            if (message.startsWith(":")) expect(r.stderr).toContain(`not on the runner's PATH (${dir})`);
        }
        // The oldest accepted.
        expect(preflight(host("minskopeo", { ...gpu, skopeo: SKOPEO("1.6.0") }, [...base, "timeout", "setpriv"])).code).toBe(0);
    });

    test("with CHECK_DOCKER_GPU, Docker with the nvidia runtime (or the toolkit's CDI) passes", () => {
        const withRuntime = preflight(host("dockerok", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, skopeo: SKOPEO("1.9.3"), docker: DOCKER('{"nvidia":{"path":"nvidia-container-runtime"},"runc":{}}') }), { CHECK_DOCKER_GPU: "true" });
        expect(withRuntime.stderr).toBe("");
        expect(withRuntime.stdout).toMatch(/^docker=27\.3\.1\ndriver=580\.82\.07\ngpu=/);
        const withCdi = preflight(host("dockercdi", { "nvidia-smi": NVIDIA_SMI("580.82.07"), nix: NIX, skopeo: SKOPEO("1.9.3"), docker: DOCKER('{"runc":{}}'), "nvidia-ctk": "exit 0" }), { CHECK_DOCKER_GPU: "true" });
        expect(withCdi.code).toBe(0);
        expect(withCdi.stdout).toContain("docker=27.3.1\n");
    });
});

describe("host programs (hostProgram)", () => {
    test("parameters are read from a quoted here-document, values taken literally, unknown names ignored", () => {
        const params = runnerStdin({ RUNNER_NAME: "a $(touch x) `id` \\ name", RUNNER_DIR: "~/runner" }) + "PATH=/evil\n";
        const r = spawnSync("sh", ["-s"], { input: hostProgram('printf "%s|%s|%s\\n" "$RUNNER_NAME" "$RUNNER_DIR" "$PATH"', params), encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: "/home/ci" }, cwd: root });
        expect(r.stdout).toBe("a $(touch x) `id` \\ name|/home/ci/runner|/usr/bin:/bin\n");
        expect(fs.existsSync(path.join(root, "x"))).toBe(false);
    });

    test("nothing in the program can read the rest of it: its stdin is /dev/null", () => {
        const r = spawnSync("sh", ["-s"], { input: hostProgram('echo "read: $(cat)"\necho after', ""), encoding: "utf8" });
        expect(r.stdout).toBe("read: \nafter\n");
    });
});

/** A fake `ssh` that records each call into `dir`: argv, stdin, and copies of the -i and known_hosts files (with modes). */
function fakeSsh(dir: string, replies: string[] = []): string {
    const bin = path.join(dir, "bin");
    fs.mkdirSync(bin, { recursive: true });
    replies.forEach((r, i) => fs.writeFileSync(path.join(dir, `reply${i + 1}`), r));
    fs.writeFileSync(path.join(bin, "ssh"), `#!/bin/sh
n=$(($(cat ${dir}/count 2>/dev/null || echo 0) + 1)); echo $n > ${dir}/count
printf '%s\\n' "$@" > ${dir}/argv$n
cat > ${dir}/stdin$n
prev=
for a in "$@"; do
  [ "$prev" != -i ] || { cp "$a" ${dir}/key$n; stat -c %a "$a" > ${dir}/keymode$n; stat -c %a "$(dirname "$a")" > ${dir}/dirmode$n; }
  case "$a" in UserKnownHostsFile=*) cp "\${a#UserKnownHostsFile=}" ${dir}/known_hosts$n ;; esac
  prev=$a
done
[ ! -f ${dir}/reply$n ] || cat ${dir}/reply$n
`, { mode: 0o755 });
    return bin;
}

const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmUAAAAEbm9uZQAAAAAAAAABsentinel\n-----END OPENSSH PRIVATE KEY-----";
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKeySentinel";
const sshEnv = (bin: string, extra: Record<string, string> = {}) => ({
    PATH: `${bin}:/usr/bin:/bin`, TMPDIR: path.join(root, "tmp"),
    LAYERSTACK_SSH_HOST: "gpu1.example.com", LAYERSTACK_SSH_PORT: "2222", LAYERSTACK_SSH_USER: "ci", LAYERSTACK_SSH_HOST_KEY: HOST_KEY, ...extra,
});
fs.mkdirSync(path.join(root, "tmp"));

describe("the local side of an SSH step", () => {
    const params = runnerStdin({ RUNNER_DIR: "~/actions-runner-x", MIN_DRIVER: "580.65.06", CUDA_VERSION: "13.0", MIN_FREE_GB: "100" });

    test("OpenSSH with the key in a private file, the pinned host key, no config, no prompt; the host program on stdin", async () => {
        const dir = path.join(root, "ssh-key");
        const r = spawnSync("/bin/sh", ["-c", PREFLIGHT_SCRIPT], { input: params, encoding: "utf8", env: sshEnv(fakeSsh(dir), { LAYERSTACK_SSH_KEY: KEY }) });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const argv = fs.readFileSync(path.join(dir, "argv1"), "utf8").trimEnd().split("\n");
        const tmp = path.dirname(argv[argv.indexOf("-i") + 1]);
        expect(argv).toEqual([
            "-F", "none", "-p", "2222", "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
            "-o", "StrictHostKeyChecking=yes", "-o", `UserKnownHostsFile=${tmp}/known_hosts`, "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "HostKeyAlias=layerstack-runner", "-o", "UpdateHostKeys=no", "-o", "LogLevel=ERROR",
            "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i", `${tmp}/id`, "ci@gpu1.example.com", "sh -s",
        ]);
        expect(tmp.startsWith(path.join(root, "tmp") + "/")).toBe(true);
        expect(fs.readFileSync(path.join(dir, "stdin1"), "utf8")).toBe(hostProgram(PREFLIGHT_REMOTE, params));
        expect(fs.readFileSync(path.join(dir, "key1"), "utf8")).toBe(KEY + "\n");
        expect(fs.readFileSync(path.join(dir, "keymode1"), "utf8").trim()).toBe("600");
        expect(fs.readFileSync(path.join(dir, "dirmode1"), "utf8").trim()).toBe("700");
        expect(fs.readFileSync(path.join(dir, "known_hosts1"), "utf8")).toBe(`layerstack-runner ${HOST_KEY}\n`);
        // ssh was exec'd; the private directory goes once it is gone.
        await new Promise((res) => setTimeout(res, 1500));
        expect(fs.existsSync(tmp)).toBe(false);
    });

    test("an agent only when asked for, and only with SSH_AUTH_SOCK; neither key nor agent is refused", () => {
        const dir = path.join(root, "ssh-agent");
        const bin = fakeSsh(dir);
        const ok = spawnSync("/bin/sh", ["-c", INSTALL_SCRIPT], { input: params, encoding: "utf8", env: sshEnv(bin, { LAYERSTACK_SSH_AGENT: "true", SSH_AUTH_SOCK: "/run/agent.sock" }) });
        expect(ok.status).toBe(0);
        const argv = fs.readFileSync(path.join(dir, "argv1"), "utf8").trimEnd().split("\n");
        expect(argv).not.toContain("-i");
        expect(argv).not.toContain("IdentityAgent=none");
        expect(argv.slice(-2)).toEqual(["ci@gpu1.example.com", "sh -s"]);
        expect(fs.readFileSync(path.join(dir, "stdin1"), "utf8")).toBe(hostProgram(INSTALL_REMOTE, params));

        const noSock = spawnSync("/bin/sh", ["-c", INSTALL_SCRIPT], { input: params, encoding: "utf8", env: sshEnv(bin, { LAYERSTACK_SSH_AGENT: "true" }) });
        expect(noSock.status).toBe(1);
        expect(noSock.stderr).toBe("GPU runner: layerstack:runnerSshAgent is true, but SSH_AUTH_SOCK is not set: start an agent holding the runner's key\n");
        const neither = spawnSync("/bin/sh", ["-c", UNREGISTER_SCRIPT], { input: params, encoding: "utf8", env: sshEnv(bin) });
        expect(neither.status).toBe(1);
        expect(neither.stderr).toBe("GPU runner: no SSH key: set layerstack:runnerSshKey, or layerstack:runnerSshAgent to true to use your SSH agent\n");
        expect(fs.readFileSync(path.join(dir, "count"), "utf8").trim()).toBe("1");
    });
});

describe("registration (REGISTER_SCRIPT): a token only when the host's registration must change", () => {
    const TOKEN = `AREGSENTINEL${crypto.randomBytes(6).toString("hex").toUpperCase()}`;
    const GH = `ghp_sentinel${crypto.randomBytes(8).toString("hex")}`;
    const params = runnerStdin({
        RUNNER_DIR: "~/actions-runner-x", RUNNER_URL: "https://github.com/owner/megapak", RUNNER_NAME: "x", RUNNER_LABELS: "gpu,cuda-13.0",
        RUNNER_EPHEMERAL: "false", RUNNER_VERSION: "2.337.0", GITHUB_API: "https://api.example", GITHUB_OWNER: "owner", GITHUB_REPOSITORY: "megapak",
    });
    /** A fake curl that records its argv and the -H @file headers, and answers the registration token. */
    function fakeCurl(bin: string, dir: string) {
        fs.writeFileSync(path.join(bin, "curl"), `#!/bin/sh
printf '%s\\n' "$@" >> ${dir}/curl-argv
out=
prev=
for a in "$@"; do
  case "$prev" in -H) case "$a" in @*) cat "\${a#@}" >> ${dir}/curl-headers ;; esac ;; -o) out=$a ;; esac
  prev=$a
done
printf '{"token":"${TOKEN}","expires_at":"2026-11-21T10:00:00Z"}' > "$out"
`, { mode: 0o755 });
    }
    const env = (bin: string) => sshEnv(bin, {
        LAYERSTACK_SSH_KEY: KEY, LAYERSTACK_GITHUB_API: "https://api.example", LAYERSTACK_GITHUB_OWNER: "owner", LAYERSTACK_GITHUB_REPOSITORY: "megapak", LAYERSTACK_GITHUB_TOKEN: GH,
    });

    test("state=current: one SSH call, no token minted", () => {
        const dir = path.join(root, "reg-current");
        const bin = fakeSsh(dir, ["runner x: service started\nstate=current\n"]);
        fakeCurl(bin, dir);
        const r = spawnSync("/bin/sh", ["-c", REGISTER_SCRIPT], { input: params, encoding: "utf8", env: env(bin) });
        expect(r.status).toBe(0);
        expect(r.stdout).toBe("runner x is registered as asked: no token minted, nothing changed\n");
        expect(fs.readFileSync(path.join(dir, "count"), "utf8").trim()).toBe("1");
        expect(fs.readFileSync(path.join(dir, "stdin1"), "utf8")).toBe(hostProgram(STATE_REMOTE, params));
        expect(fs.existsSync(path.join(dir, "curl-argv"))).toBe(false);
    });

    test("state=changed: a token minted through the REST API, then the host registers with it on stdin", () => {
        const dir = path.join(root, "reg-changed");
        const bin = fakeSsh(dir, ["state=changed\n"]);
        fakeCurl(bin, dir);
        const r = spawnSync("/bin/sh", ["-c", REGISTER_SCRIPT], { input: params, encoding: "utf8", env: env(bin) });
        expect(r.stderr).toBe("runner x: registration token minted\n");
        expect(r.status).toBe(0);
        expect(fs.readFileSync(path.join(dir, "count"), "utf8").trim()).toBe("2");
        const argv = fs.readFileSync(path.join(dir, "curl-argv"), "utf8").trimEnd().split("\n");
        const headerFile = argv[argv.indexOf("-H") + 1];
        expect(argv).toEqual([
            "--fail", "--silent", "--show-error", "--connect-timeout", "30", "--max-time", "60", "--retry", "2", "-X", "POST", "-H", headerFile,
            "-H", "Accept: application/vnd.github+json", "-H", "X-GitHub-Api-Version: 2022-11-28", "-o", argv[argv.indexOf("-o") + 1],
            "https://api.example/repos/owner/megapak/actions/runners/registration-token",
        ]);
        expect(headerFile).toMatch(/^@.*\/auth$/);
        expect(fs.readFileSync(path.join(dir, "curl-headers"), "utf8")).toBe(`Authorization: Bearer ${GH}\n`);
        expect(fs.readFileSync(path.join(dir, "stdin2"), "utf8")).toBe(hostProgram(REGISTER_REMOTE, params + `RUNNER_TOKEN=${TOKEN}\n`));
        for (const f of ["argv1", "argv2", "curl-argv"]) {
            const text = fs.readFileSync(path.join(dir, f), "utf8");
            expect(text).not.toContain(TOKEN);
            expect(text).not.toContain(GH);
        }
    });
});

describe("registration in ephemeral mode (REGISTER_SCRIPT): nothing minted here, the host gets the JIT token", () => {
    const JIT = `github_pat_sentinel${crypto.randomBytes(8).toString("hex")}`;
    const params = runnerStdin({ RUNNER_DIR: "~/actions-runner-x", RUNNER_NAME: "x", RUNNER_LABELS: "gpu", RUNNER_EPHEMERAL: "true", RUNNER_VERSION: "2.337.0" });
    const id = crypto.createHash("sha256").update(JIT).digest("hex").slice(0, 16);

    test("the state check carries the token's fingerprint (a rotated token re-registers); the registration carries the token, on stdin", () => {
        const dir = path.join(root, "reg-jit");
        const bin = fakeSsh(dir, ["state=changed\n"]);
        fs.writeFileSync(path.join(bin, "curl"), "#!/bin/sh\necho curl >> " + dir + "/curl-called\n", { mode: 0o755 });
        const r = spawnSync("/bin/sh", ["-c", REGISTER_SCRIPT], { input: params, encoding: "utf8", env: sshEnv(bin, { LAYERSTACK_SSH_KEY: KEY, LAYERSTACK_RUNNER_JIT_TOKEN: JIT }) });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(fs.readFileSync(path.join(dir, "stdin1"), "utf8")).toBe(hostProgram(STATE_REMOTE, params + `RUNNER_JIT_TOKEN_ID=${id}\n`));
        expect(fs.readFileSync(path.join(dir, "stdin2"), "utf8")).toBe(hostProgram(REGISTER_REMOTE, params + `RUNNER_JIT_TOKEN_ID=${id}\nRUNNER_JIT_TOKEN=${JIT}\n`));
        expect(fs.existsSync(path.join(dir, "curl-called"))).toBe(false);
        for (const f of ["argv1", "argv2"]) expect(fs.readFileSync(path.join(dir, f), "utf8")).not.toContain(JIT);
    });

    test("without the JIT token, or with one that is not a token, nothing reaches the host", () => {
        const dir = path.join(root, "reg-jit-missing");
        const bin = fakeSsh(dir);
        const none = spawnSync("/bin/sh", ["-c", REGISTER_SCRIPT], { input: params, encoding: "utf8", env: sshEnv(bin, { LAYERSTACK_SSH_KEY: KEY }) });
        expect(none.status).toBe(1);
        expect(none.stderr).toBe("GPU runner: ephemeral mode needs layerstack:runnerJitToken\n");
        const bad = spawnSync("/bin/sh", ["-c", REGISTER_SCRIPT], { input: params, encoding: "utf8", env: sshEnv(bin, { LAYERSTACK_SSH_KEY: KEY, LAYERSTACK_RUNNER_JIT_TOKEN: "a b\nRUNNER_DIR=/" }) });
        expect(bad.status).toBe(1);
        expect(bad.stderr).toBe("GPU runner: layerstack:runnerJitToken is not a GitHub token (letters, digits, '_', '.', '-')\n");
        expect(fs.existsSync(path.join(dir, "count"))).toBe(false);
    });
});

describe("ephemeral mode on the host: a systemd unit that fetches a just-in-time configuration per job", () => {
    const JIT_TOKEN = `github_pat_sentinel${crypto.randomBytes(8).toString("hex")}`;
    const api = new GithubStandin(5703, { tokens: [JIT_TOKEN], repo: "owner/megapak" });
    const fakeRoot = path.join(root, "fakeroot");
    const runnerDir = path.join(root, "jit-home", "actions-runner-gpu1");
    const argvLog = path.join(root, "jit-argv.log");
    let bin: string;
    beforeAll(() => {
        api.start();
        fs.mkdirSync(runnerDir, { recursive: true });
        fs.mkdirSync(fakeRoot);
        bin = path.join(root, "jit-bin");
        makeArgvShims(bin, ["curl", "sed", "tr", "cat", "mktemp", "chown", "mv"], argvLog);
        // sudo records its argv and carries out install/rm under the fake root; systemctl records.
        fs.writeFileSync(path.join(bin, "sudo"), `#!/bin/sh
printf '%s ' "$@" >> ${root}/sudo.log; echo >> ${root}/sudo.log
[ "$1" != -n ] || shift
case "$1" in
  install) shift; dir=; mode=; while [ $# -gt 0 ]; do case "$1" in -d) dir=1 ;; -m) mode=$2; shift ;; -o|-g) shift ;; *) break ;; esac; shift; done
    if [ -n "$dir" ]; then for d in "$@"; do mkdir -p "${fakeRoot}$d"; done
    else cp "$1" "${fakeRoot}$2"; chmod "$mode" "${fakeRoot}$2"; fi ;;
  systemctl) printf '%s\\n' "$*" >> ${root}/systemctl.log ;;
  *) echo "unexpected sudo $*" >&2; exit 1 ;;
esac
`, { mode: 0o755 });
        fs.mkdirSync(path.join(fakeRoot, "etc/systemd/system"), { recursive: true });
        fs.writeFileSync(path.join(bin, "systemctl"), `#!/bin/sh\nprintf '%s\\n' "$*" >> ${root}/systemctl.log\nexit 3\n`, { mode: 0o755 });
        // The release's run.sh: takes the JIT configuration like Runner.Listener, tells the stand-in API it took its one job.
        fs.writeFileSync(path.join(runnerDir, "run.sh"), `#!/bin/sh
printf '%s|%s|%s\\n' "$#" "$(printf %s "$ACTIONS_RUNNER_INPUT_JITCONFIG" | sha256sum | cut -c1-16)" "$(env | cut -d= -f1 | grep -c -e JIT_TOKEN -e GITHUB_TOKEN)" >> ${root}/run.log
curl -s -f -o /dev/null -X POST -H @/dev/stdin ${api.url}/_standin/job-done <<EOF
Authorization: RemoteAuth $ACTIONS_RUNNER_INPUT_JITCONFIG
EOF
`, { mode: 0o755 });
    });
    afterAll(() => api.dispose());

    const unit = "layerstack-runner-gpu1";
    const installed = (p: string) => path.join(fakeRoot, p);

    test("registration installs the unit, its root-only token and its two scripts; nothing registers yet", () => {
        const params = runnerStdin({
            RUNNER_DIR: runnerDir, RUNNER_URL: "https://github.com/owner/megapak", RUNNER_NAME: "gpu1", RUNNER_LABELS: "gpu,cuda-13.0",
            RUNNER_EPHEMERAL: "true", RUNNER_VERSION: "2.337.0", RUNNER_JIT_TOKEN_ID: "0123456789abcdef",
            GITHUB_API: api.url, GITHUB_OWNER: "owner", GITHUB_REPOSITORY: "megapak",
        });
        const r = spawnSync("sh", ["-s"], {
            input: hostProgram(REGISTER_REMOTE, params + `RUNNER_JIT_TOKEN=${JIT_TOKEN}\n`), encoding: "utf8",
            env: { PATH: `${bin}:/usr/bin:/bin`, HOME: path.dirname(runnerDir), TMPDIR: path.join(root, "tmp") },
        });
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe("runner gpu1 registered (jit)\n");
        expect(r.status).toBe(0);
        const user = spawnSync("id", ["-un"], { encoding: "utf8" }).stdout.trim();
        const sudo = fs.readFileSync(path.join(root, "sudo.log"), "utf8").trim().split("\n").map((l) => l.trim().replace(/\/tmp\/\S+\/(token|jitconfig\.sh|run\.sh|unit)\b/, "<tmp>/$1"));
        expect(sudo).toEqual([
            `-n install -d -m 0755 -o root -g root /etc/layerstack /etc/layerstack/${unit}`,
            `-n install -m 0600 -o root -g root <tmp>/token /etc/layerstack/${unit}/token`,
            `-n install -m 0755 -o root -g root <tmp>/jitconfig.sh /etc/layerstack/${unit}/jitconfig.sh`,
            `-n install -m 0755 -o root -g root <tmp>/run.sh /etc/layerstack/${unit}/run.sh`,
            `-n install -m 0644 -o root -g root <tmp>/unit /etc/systemd/system/${unit}.service`,
            "-n systemctl daemon-reload", `-n systemctl enable ${unit}`, `-n systemctl restart ${unit}`,
        ]);
        expect(fs.readFileSync(installed(`etc/layerstack/${unit}/token`), "utf8")).toBe(JIT_TOKEN + "\n");
        expect(fs.statSync(installed(`etc/layerstack/${unit}/token`)).mode & 0o777).toBe(0o600);
        expect(fs.readFileSync(installed(`etc/layerstack/${unit}/jitconfig.sh`), "utf8")).toBe(JIT_CONFIG_SCRIPT + "\n");
        expect(fs.readFileSync(installed(`etc/layerstack/${unit}/run.sh`), "utf8")).toBe(JIT_RUN_SCRIPT + "\n");
        const unitText = fs.readFileSync(installed(`etc/systemd/system/${unit}.service`), "utf8");
        expect(unitText.split("\n")).toEqual(expect.arrayContaining([
            `User=${user}`, `WorkingDirectory=${runnerDir}`, `RuntimeDirectory=${unit}`, "RuntimeDirectoryMode=0700",
            `Environment="LAYERSTACK_GITHUB_API=${api.url}" "LAYERSTACK_GITHUB_OWNER=owner" "LAYERSTACK_GITHUB_REPOSITORY=megapak"`,
            `Environment="LAYERSTACK_RUNNER_NAME=gpu1" "LAYERSTACK_RUNNER_LABELS=self-hosted,linux,x64,gpu,cuda-13.0" "LAYERSTACK_RUNNER_USER=${user}"`,
            `ExecStartPre=+/bin/sh /etc/layerstack/${unit}/jitconfig.sh /etc/layerstack/${unit}/token`,
            `ExecStart=/bin/sh /etc/layerstack/${unit}/run.sh`, "Restart=always", "StartLimitIntervalSec=0", "WantedBy=multi-user.target",
            // Restarts back off (systemd >= 254), and a refused token (run.sh's 78) stops them.
            "RestartSec=10", "RestartSteps=8", "RestartMaxDelaySec=30min", `RestartPreventExitStatus=${JIT_REFUSED_STATUS}`,
        ]));
        expect(unitText).not.toContain(JIT_TOKEN);
        expect(fs.readFileSync(path.join(runnerDir, ".layerstack-registration"), "utf8")).toBe(`jit|https://github.com/owner/megapak|gpu1|gpu,cuda-13.0|2.337.0|0123456789abcdef|${api.url}|`);
        expect(fs.readFileSync(path.join(runnerDir, ".path"), "utf8")).toMatch(new RegExp(`${bin}:/usr/bin:/bin\\n$`));
        // No registration yet: the unit's first start mints the first configuration.
        expect(api.apiRequests()).toEqual([]);
    });

    /** What systemd does for one start of the unit: ExecStartPre=+ as root, then ExecStart in the runner directory. */
    function start(runtime: string, opts: { run: boolean }) {
        const unitText = fs.readFileSync(installed(`etc/systemd/system/${unit}.service`), "utf8");
        const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, TMPDIR: path.join(root, "tmp"), RUNTIME_DIRECTORY: runtime, HOME: path.dirname(runnerDir) };
        for (const m of unitText.matchAll(/"([A-Z_]+)=([^"]*)"/g)) env[m[1]] = m[2];
        fs.mkdirSync(runtime, { recursive: true, mode: 0o700 });
        const pre = spawnSync("sh", [installed(`etc/layerstack/${unit}/jitconfig.sh`), installed(`etc/layerstack/${unit}/token`)], { env, encoding: "utf8" });
        if (pre.status !== 0 || !opts.run) return { pre };
        const main = spawnSync("sh", [installed(`etc/layerstack/${unit}/run.sh`)], { env, encoding: "utf8", cwd: runnerDir });
        return { pre, main };
    }

    test("each start fetches a fresh configuration and runs one job with it, from ACTIONS_RUNNER_INPUT_JITCONFIG, never argv", () => {
        const runtime = path.join(root, "run", unit);
        for (let i = 0; i < 2; i++) {
            const { pre, main } = start(runtime, { run: true });
            expect(pre.stderr).toBe("layerstack: fresh just-in-time configuration for gpu1\n");
            expect(main!.status).toBe(0);
            expect(fs.existsSync(path.join(runtime, "jitconfig"))).toBe(false);
        }
        const jit = api.apiRequests().filter((q) => q.path.endsWith("/generate-jitconfig"));
        expect(jit.map((q) => [q.status, q.runner, q.labels, q.work_folder])).toEqual([
            [201, "gpu1", ["self-hosted", "linux", "x64", "gpu", "cuda-13.0"], "_work"],
            [201, "gpu1", ["self-hosted", "linux", "x64", "gpu", "cuda-13.0"], "_work"],
        ]);
        expect(jit[0].jit).not.toBe(jit[1].jit);
        // run.sh got no arguments, each configuration once, and no GitHub token in its environment.
        expect(fs.readFileSync(path.join(root, "run.log"), "utf8")).toBe(`0|${jit[0].jit}|0\n0|${jit[1].jit}|0\n`);
        expect(api.requests().filter((q) => q.path === "/_standin/job-done").map((q) => q.status)).toEqual([200, 200]);
    });

    test("a registration left from a start that took no job (409) is removed, and the start goes on", () => {
        const runtime = path.join(root, "run2", unit);
        expect(start(runtime, { run: false }).pre.status).toBe(0);
        const { pre, main } = start(runtime, { run: true });
        expect(pre.stderr).toMatch(/^layerstack: removed the stale registration of gpu1 \(\d+\)\nlayerstack: fresh just-in-time configuration for gpu1\n$/);
        expect(main!.status).toBe(0);
        const tail = api.apiRequests().slice(-5).map((q) => `${q.method} ${q.path.replace(/\d+$/, "<id>")} ${q.status}`);
        expect(tail).toEqual([
            "POST /repos/owner/megapak/actions/runners/generate-jitconfig 201",
            "POST /repos/owner/megapak/actions/runners/generate-jitconfig 409",
            "GET /repos/owner/megapak/actions/runners 200",
            "DELETE /repos/owner/megapak/actions/runners/<id> 204",
            "POST /repos/owner/megapak/actions/runners/generate-jitconfig 201",
        ]);
    });

    test("an expired or revoked token: the journal says why, run.sh exits JIT_REFUSED_STATUS, so systemd stops restarting", () => {
        const runtime = path.join(root, "run3", unit);
        const expired = path.join(root, "expired-token");
        fs.writeFileSync(expired, "github_pat_expired0000\n", { mode: 0o600 });
        const unitText = fs.readFileSync(installed(`etc/systemd/system/${unit}.service`), "utf8");
        const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, TMPDIR: path.join(root, "tmp"), RUNTIME_DIRECTORY: runtime, HOME: path.dirname(runnerDir) };
        for (const m of unitText.matchAll(/"([A-Z_]+)=([^"]*)"/g)) env[m[1]] = m[2];
        fs.mkdirSync(runtime, { recursive: true, mode: 0o700 });
        const runs = fs.readFileSync(path.join(root, "run.log"), "utf8");
        const pre = spawnSync("sh", [installed(`etc/layerstack/${unit}/jitconfig.sh`), expired], { env, encoding: "utf8" });
        const why = `layerstack: GitHub refused the token in ${expired} (HTTP 401): it has expired, was revoked or lacks Administration: write on owner/megapak. The unit stops restarting; set a new layerstack:runnerJitToken and run npm run runner, which re-installs and restarts it\n`;
        expect(pre.stderr).toBe(why);
        expect(pre.status).toBe(0);
        const main = spawnSync("sh", [installed(`etc/layerstack/${unit}/run.sh`)], { env, encoding: "utf8", cwd: runnerDir });
        expect(main.stderr).toBe(why);
        expect(main.status).toBe(JIT_REFUSED_STATUS);
        // The runner itself never ran.
        expect(fs.readFileSync(path.join(root, "run.log"), "utf8")).toBe(runs);
        expect(api.apiRequests().slice(-1).map((q) => `${q.method} ${q.path} ${q.status}`)).toEqual(["POST /repos/owner/megapak/actions/runners/generate-jitconfig 401"]);
    });

    test("another failure (GitHub down) fails the start: systemd tries again, backing off", () => {
        const runtime = path.join(root, "run4", unit);
        const unitText = fs.readFileSync(installed(`etc/systemd/system/${unit}.service`), "utf8");
        const env: Record<string, string> = { PATH: `${bin}:/usr/bin:/bin`, TMPDIR: path.join(root, "tmp"), RUNTIME_DIRECTORY: runtime, HOME: path.dirname(runnerDir) };
        for (const m of unitText.matchAll(/"([A-Z_]+)=([^"]*)"/g)) env[m[1]] = m[2];
        env.LAYERSTACK_GITHUB_API = "http://127.0.0.1:9";
        fs.mkdirSync(runtime, { recursive: true, mode: 0o700 });
        const pre = spawnSync("sh", [installed(`etc/layerstack/${unit}/jitconfig.sh`), installed(`etc/layerstack/${unit}/token`)], { env, encoding: "utf8" });
        expect(pre.status).not.toBe(0);
        expect(pre.stderr).toContain("layerstack: generate-jitconfig for gpu1 answered HTTP 000; systemd starts the unit again, waiting longer each time");
        expect(fs.existsSync(path.join(runtime, "refused"))).toBe(false);
    });

    test("the JIT token reaches GitHub only as a header from a private file: in no argv", () => {
        const argv = readArgvLog(argvLog);
        expect(argv.filter((a) => a[0] === "curl").length).toBeGreaterThanOrEqual(6);
        expect(argv.filter((a) => a.some((x) => x.includes(JIT_TOKEN)))).toEqual([]);
        expect(fs.readFileSync(argvLog, "latin1")).not.toContain(JIT_TOKEN);
        // Every request but the expired token's (its own test) carried the JIT token.
        expect(api.apiRequests().filter((q) => q.status === 401).map((q) => q.auth)).toEqual(["bad"]);
        expect(api.apiRequests().filter((q) => q.status !== 401).every((q) => q.auth === sha16(JIT_TOKEN))).toBe(true);
    });
});

describe("npm run runner (scripts/runner.sh)", () => {
    const script = path.join(__dirname, "../../scripts/runner.sh");
    const bin = path.join(root, "fake-pulumi");
    beforeAll(() => {
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh\necho "LAYERSTACK_RUNNER_ONLY=$LAYERSTACK_RUNNER_ONLY"\nprintf '%s\\n' "$@"\n`, { mode: 0o755 });
    });
    const env = (extra: Record<string, string> = {}) => ({ PATH: `${bin}:${process.env.PATH}`, ...extra });

    test("applies the runner's resources only: pulumi up --target RUNNER_URN_GLOB, plus the caller's flags, with the checks left out", () => {
        const r = spawnSync("bash", [script, "--stack", "cu130", "--yes"], { encoding: "utf8", env: env() });
        expect(r.stderr).toBe("");
        expect(r.stdout).toBe(`LAYERSTACK_RUNNER_ONLY=1\nup\n--target\n${RUNNER_URN_GLOB}\n--stack\ncu130\n--yes\n`);
    });

    test("refuses to run in a job on a self-hosted runner", () => {
        const r = spawnSync("bash", [script, "--stack", "cu130"], { encoding: "utf8", env: env({ GITHUB_ACTIONS: "true", RUNNER_ENVIRONMENT: "self-hosted" }) });
        expect(r.status).toBe(1);
        expect(r.stdout).toBe("");
        expect(r.stderr).toBe("npm run runner: this is a job on a self-hosted runner; apply the runner from a workstation (its own re-registration would end this job)\n");
    });
});

describe("host scripts", () => {
    test("the install refuses a tarball whose sha256 differs, and installs nothing", () => {
        const rel = path.join(root, "rel");
        fs.mkdirSync(path.join(rel, "v2.337.0"), { recursive: true });
        fs.writeFileSync(path.join(rel, "v2.337.0", "actions-runner-linux-x64-2.337.0.tar.gz"), "not the release");
        const dir = path.join(root, "install-home", "actions-runner");
        const params = runnerStdin({ RUNNER_DIR: dir, RUNNER_VERSION: "2.337.0", RUNNER_SHA256: "0".repeat(64), RUNNER_RELEASE_URL: `file://${rel}` });
        const r = spawnSync("sh", ["-s"], { input: hostProgram(INSTALL_REMOTE, params), encoding: "utf8", env: { PATH: "/usr/bin:/bin", HOME: root } });
        expect(r.status).toBe(1);
        expect(r.stderr).toBe(`actions-runner 2.337.0: sha256 mismatch (expected ${"0".repeat(64)}); not installed\n`);
        expect(fs.readdirSync(dir)).toEqual([]);
    });

    test("runnerStdin refuses multi-line values and unknown names", () => {
        expect(() => runnerStdin({ RUNNER_NAME: "a\nRUNNER_TOKEN=x" })).toThrow("runner parameter RUNNER_NAME must be one line");
        expect(() => runnerStdin({ NOPE: "x" } as never)).toThrow("unknown runner parameter NOPE");
    });
});
