// SSH options for the Docker provider of the runner checks when its host is `ssh://<runner>`:
// the runner's key and pinned host key, exactly as the runner's own steps use them.
//
// How the Docker provider uses them: pulumi-docker is the Terraform provider
// kreuzwerker/terraform-provider-docker bridged; its internal/provider/config.go passes
// `ssh_opts` to docker/cli's connhelper.GetConnectionHelperWithSSHOpts, which runs the `ssh`
// binary with those flags for every connection (`ssh <opts> -- <host> docker system
// dial-stdio`), and internal/provider/provider.go pings the daemon when the provider is
// configured. So the options must work for the whole deployment, for processes this program
// does not start:
// - the host key: KnownHostsCommand prints the pinned key (OpenSSH >= 8.5); no file needed,
//   and the known_hosts files are /dev/null, so no other key is ever accepted;
// - the private key: a file, written by this program into a private directory (0700, owned by
//   this user, checked) at a path stable per stack, so the provider's inputs do not change from
//   one `up` to the next. It must outlive the program: the engine deletes replaced containers
//   after the program has finished. A detached watcher removes the directory once the `pulumi`
//   process that runs the deployment is gone. A `pulumi destroy` or `refresh` that must reach
//   Docker over SSH therefore needs `--run-program` (the program writes the file). With the
//   agent, nothing is written.
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { LayerstackError } from "./errors";

export interface DockerSshAccess {
    /** `<type> <base64>`: the only host key accepted. */
    readonly hostKey: string;
    /** The private key (secret). @default none: with `agent` */
    readonly privateKey?: pulumi.Input<string>;
    /** Authenticate with the SSH agent at SSH_AUTH_SOCK instead. @default false */
    readonly agent?: boolean;
}

/** The alias the pinned host key is filed under (the runner's scripts use the same). */
const ALIAS = "layerstack-runner";

/** Options every ssh:// Docker connection gets, whatever the authentication. */
export function dockerSshBaseOptions(hostKey: string): string[] {
    return [
        "-F", "none",
        "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
        "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
        "-o", `HostKeyAlias=${ALIAS}`, "-o", `KnownHostsCommand=/bin/echo ${ALIAS} ${hostKey}`, "-o", "UpdateHostKeys=no",
    ];
}

/** The private directory the key file lives in: `<tmpdir>/layerstack-ssh-<uid>-<hash of project and stack>`. */
export function dockerSshKeyDir(project = pulumi.getProject(), stack = pulumi.getStack(), tmp = os.tmpdir()): string {
    const id = crypto.createHash("sha256").update(`${project}\0${stack}`).digest("hex").slice(0, 12);
    return path.join(tmp, `layerstack-ssh-${process.getuid?.() ?? 0}-${id}`);
}

/** Creates `dir` 0700 or accepts it only if it is already a private directory of this user (never a link). */
export function privateDir(dir: string): void {
    try {
        fs.mkdirSync(dir, { mode: 0o700 });
    } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== "EEXIST") throw e;
    }
    const st = fs.lstatSync(dir);
    if (!st.isDirectory() || st.uid !== (process.getuid?.() ?? st.uid) || (st.mode & 0o077) !== 0) {
        throw new LayerstackError(`${dir} is not a private directory of this user (mode 0700): refusing to put the runner's SSH key there`);
    }
}

/** The nearest ancestor process named `pulumi` (the engine running this program), if any. */
export function enginePid(): number | undefined {
    let pid = process.ppid;
    for (let i = 0; i < 8 && pid > 1; i++) {
        const r = spawnSync("ps", ["-o", "ppid=,comm=", "-p", String(pid)], { encoding: "utf8" });
        const m = /^\s*(\d+)\s+(.*)$/.exec(r.stdout.trim());
        if (!m) return undefined;
        if (path.basename(m[2].trim()) === "pulumi") return pid;
        pid = Number(m[1]);
    }
    return undefined;
}

/**
 * Writes `key` to `<dir>/id` (0600). The directory is removed once process `watch` has exited
 * (a detached watcher, so it outlives this program), or when this process exits if there is
 * nothing to watch.
 */
export function writeKeyFile(dir: string, key: string, watch = enginePid()): string {
    privateDir(dir);
    const file = path.join(dir, "id");
    fs.rmSync(file, { force: true });
    const fd = fs.openSync(file, fs.constants.O_WRONLY | fs.constants.O_CREAT | fs.constants.O_EXCL, 0o600);
    try {
        fs.writeSync(fd, key.endsWith("\n") ? key : key + "\n");
    } finally {
        fs.closeSync(fd);
    }
    if (watch === undefined) {
        process.once("exit", () => fs.rmSync(dir, { recursive: true, force: true }));
    } else {
        spawn("/bin/sh", ["-c", 'while kill -0 "$1" 2>/dev/null; do sleep 1; done; rm -rf "$2"', "sh", String(watch), dir], { detached: true, stdio: "ignore" }).unref();
    }
    return file;
}

/** The Docker provider's `sshOpts` for the runner's host. */
export function dockerSshOptions(access: DockerSshAccess, dir = dockerSshKeyDir()): pulumi.Output<string[]> {
    const base = dockerSshBaseOptions(access.hostKey);
    if (access.agent || access.privateKey === undefined) return pulumi.output(base);
    const file = path.join(dir, "id");
    // The key only decides the file's content; the options name the file, not the key.
    return pulumi.unsecret(pulumi.output(access.privateKey).apply((key) => {
        writeKeyFile(dir, key);
        return [...base, "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i", file];
    }));
}
