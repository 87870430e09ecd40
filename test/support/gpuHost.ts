// A GPU host for the runner's e2e test: Debian's openssh-server on 127.0.0.1 with a throwaway
// host key, a throwaway user and key, and stand-ins on that user's PATH for what this machine
// lacks (nvidia-smi reporting a driver version, sudo, systemctl). Plus a stand-in runner
// release tarball with the pinned file name. The stand-ins record every call
// (test/support/standin-host.js); the sshd logs every login.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { runnerTarball } from "../../lib/commands/runner";
import { makeArgvShims, readArgvLog } from "./argv";
import { SshHost } from "./sshHost";
import { REPO } from "./stack";

/** One call of a stand-in tool on the host, as standin-host.js records it. */
export interface HostCall {
    tool: string;
    argv: string[];
    cwd: string;
    env: string[];
    path: string;
    token?: string;
    jitconfig?: string;
}

const sha256 = (data: string | Buffer) => crypto.createHash("sha256").update(data).digest("hex");

/** The host programs whose every argv is logged: the ones the host scripts hand data to. */
export const HOST_SHIMS = ["sh", "curl", "tar", "sha256sum", "cat", "sed", "mktemp", "install", "timeout", "node", "awk", "df"];

export class GpuHost extends SshHost {
    readonly home: string;
    readonly callsFile: string;
    /** argv of every call of the shimmed programs on the host (HOST_SHIMS). */
    readonly argvLog: string;

    /** `port` is shifted by LAYERSTACK_TEST_PORT_OFFSET; `apiUrl` is where the stand-in runner registers. */
    constructor(port: number, readonly apiUrl: string) {
        super(port, "gpuhost", "lsgpu");
        this.home = path.join(this.dir, "home");
        this.callsFile = path.join(this.dir, "calls.jsonl");
        this.argvLog = path.join(this.dir, "argv.log");
    }

    /** Creates the user and its stand-ins, then starts sshd on 127.0.0.1:<port>. */
    start(): void {
        const bin = path.join(this.home, "bin");
        const state = path.join(this.home, ".standin");
        fs.mkdirSync(bin, { recursive: true });
        fs.mkdirSync(state, { recursive: true });
        fs.writeFileSync(this.callsFile, "");
        fs.writeFileSync(this.argvLog, "");
        const shims = makeArgvShims(path.join(this.home, "shims"), HOST_SHIMS, this.argvLog);
        fs.copyFileSync(path.join(REPO, "test/support/standin-host.js"), path.join(this.dir, "standin-host.js"));
        const env = `export STANDIN_CALLS_FILE=${this.callsFile} STANDIN_API=${this.apiUrl} STANDIN_STATE=${state}`;
        const helper = `node ${path.join(this.dir, "standin-host.js")}`;
        const write = (file: string, text: string) => fs.writeFileSync(file, text, { mode: 0o755 });
        write(path.join(bin, "sudo"), `#!/bin/sh\n${env}\n${helper} sudo "$@"\n[ "$1" != -n ] || shift\nexec "$@"\n`);
        write(path.join(bin, "systemctl"), `#!/bin/sh\n${env}\nexec ${helper} systemctl "$@"\n`);
        // ldconfig as a minimal host answers before the runner's dependencies are installed: no libicu
        // (what the release's config.sh looks for), until bin/installdependencies.sh has run.
        write(path.join(bin, "ldconfig"), `#!/bin/sh\n[ ! -f ${path.join(state, "icu")} ] || echo "	libicuuc.so.72 -> libicuuc.so.72.1"\necho "/usr/lib/x86_64-linux-gnu:"\n`);
        write(path.join(bin, "nvidia-smi"), `#!/bin/sh\ncase "$*" in\n  *driver_version*) cat ${path.join(state, "driver")} ;;\n  *name*) echo "NVIDIA H100 80GB HBM3" ;;\n  *) echo "NVIDIA-SMI stand-in" ;;\nesac\n`);
        write(path.join(this.dir, "svc.sh.template"), `#!/bin/sh\n${env}\ncd "$(dirname "$0")"\nexec ${helper} svc "$@"\n`);
        this.setDriver("580.82.07");
        // The user's PATH over SSH: the stand-ins first, then the argv shims, then the system's (nix, node, curl, tar).
        this.startSshd({ home: this.home, owned: [this.callsFile, this.argvLog], config: [`SetEnv PATH=${this.sessionPath(bin, shims)}`] });
    }

    /** The SSH session's PATH. */
    sessionPath(bin = path.join(this.home, "bin"), shims = path.join(this.home, "shims")): string {
        // The host's Nix (the preflight requires one) is this machine's dev Nix, which the dev toolchain
        // keeps in a private prefix rather than /usr/bin (scripts/lib/nix-install.sh); its daemon on the
        // default socket serves this user.
        return `${bin}:${shims}:${path.join(REPO, ".layerstack/nix/bin")}:/usr/local/bin:/usr/bin:/bin`;
    }

    /** argv of every call of a shimmed program on the host so far. */
    argv(): string[][] {
        return readArgvLog(this.argvLog);
    }

    /** What the stand-in nvidia-smi reports as the driver version. */
    setDriver(version: string): void {
        fs.writeFileSync(path.join(this.home, ".standin", "driver"), version + "\n", { mode: 0o644 });
    }

    calls(): HostCall[] {
        return fs.readFileSync(this.callsFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    }

    /** The runner directory GpuRunner uses by default for `runnerName`. */
    runnerDir(runnerName: string): string {
        return path.join(this.home, `actions-runner-${runnerName}`);
    }
}

/**
 * A stand-in runner release: `v<version>/actions-runner-linux-x64-<version>.tar.gz` under
 * `dir`, holding config.sh and run.sh that hand over to the host's standin-host.js (so they
 * record their arguments and environment). Returns the tarball's sha256.
 */
export function makeRunnerRelease(dir: string, version: string, host: GpuHost): string {
    const src = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-runner-src-"));
    const env = `export STANDIN_CALLS_FILE=${host.callsFile} STANDIN_API=${host.apiUrl} STANDIN_STATE=${path.join(host.home, ".standin")}`;
    const helper = `node ${path.join(host.dir, "standin-host.js")}`;
    for (const [name, sub] of [["config.sh", "config"], ["run.sh", "run"]]) {
        fs.writeFileSync(path.join(src, name), `#!/bin/sh\n${env}\ncd "$(dirname "$0")"\nexec ${helper} ${sub} "$@"\n`, { mode: 0o755 });
    }
    fs.mkdirSync(path.join(src, "bin"));
    // The release's dependency installer (src/Misc/layoutbin/installdependencies.sh): records its call, then "installs" libicu.
    fs.writeFileSync(path.join(src, "bin", "installdependencies.sh"), `#!/bin/sh\n${env}\nexec ${helper} installdependencies "$@"\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(src, "bin", "Runner.Listener"), "stand-in\n");
    const out = path.join(dir, `v${version}`);
    fs.mkdirSync(out, { recursive: true });
    const tarball = path.join(out, runnerTarball(version));
    execFileSync("tar", ["-czf", tarball, "-C", src, "."]);
    fs.rmSync(src, { recursive: true, force: true });
    return sha256(fs.readFileSync(tarball));
}
