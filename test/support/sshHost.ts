// A second machine on this one, reached over SSH: Debian's openssh-server on 127.0.0.1 with a
// throwaway host key, a throwaway user and key, and a host key of "another machine" for the
// tests that pin the wrong one. What test/support/gpuHost.ts (the GPU runner's host) and
// test/support/nixBuilder.ts (a Nix remote builder) have in common; each adds what its host
// runs. Needs root: it creates the user and runs sshd.
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO, testPortOffset } from "./stack";

/** Reads an OpenSSH public key file into the `<type> <base64>` line a pinned host key takes. */
function keyLine(pubFile: string): string {
    return fs.readFileSync(pubFile, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

export class SshHost {
    readonly dir: string;
    readonly user: string;
    readonly port: number;
    /** The host key sshd presents, as `ssh-keyscan` prints it (without the host name). */
    readonly hostKey: string;
    /** A host key of another machine: pinning it must make every SSH step fail. */
    readonly otherHostKey: string;
    /** The throwaway user's private key (OpenSSH format). */
    readonly privateKey: string;
    private sshd?: ChildProcess;

    /**
     * `port` is shifted by LAYERSTACK_TEST_PORT_OFFSET; `name` names the temporary directory
     * (`layerstack-<name>-`) and `userPrefix` starts the user's name.
     */
    constructor(port: number, name: string, userPrefix: string) {
        if (process.getuid?.() !== 0) throw new Error(`test/support/sshHost.ts (${name}) needs root: it creates a throwaway user and runs sshd for it`);
        execFileSync("bash", [path.join(REPO, "test/support/openssh-server.sh")], { stdio: ["ignore", "pipe", "inherit"] });
        this.port = port + testPortOffset();
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `layerstack-${name}-`));
        fs.chmodSync(this.dir, 0o755);
        this.user = `${userPrefix}${crypto.randomBytes(4).toString("hex")}`;
        for (const k of ["host", "other", "user"]) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `layerstack-e2e-${k}`, "-f", path.join(this.dir, k)]);
        this.hostKey = keyLine(path.join(this.dir, "host.pub"));
        this.otherHostKey = keyLine(path.join(this.dir, "other.pub"));
        this.privateKey = fs.readFileSync(path.join(this.dir, "user"), "utf8");
    }

    /**
     * Creates the user (home `home`, owning `owned` too) with the key authorized, and starts sshd
     * on 127.0.0.1:<port> with `config` lines after the common ones; `launch` runs the sshd
     * command line (its pid must become sshd's). Returns once sshd listens.
     */
    protected startSshd(o: { home: string; owned: string[]; config: string[]; launch?: (argv: string[]) => ChildProcess }): void {
        execFileSync("useradd", ["-M", "-d", o.home, "-s", "/bin/sh", this.user]);
        // sshd without PAM refuses a locked account ("!" in /etc/shadow); "*" is no password, not locked.
        execFileSync("usermod", ["-p", "*", this.user]);
        execFileSync("chown", ["-R", `${this.user}:`, o.home, ...o.owned]);
        const ak = path.join(this.dir, "authorized_keys");
        fs.mkdirSync(ak, { mode: 0o755 });
        fs.copyFileSync(path.join(this.dir, "user.pub"), path.join(ak, this.user));
        fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
        const config = path.join(this.dir, "sshd_config");
        fs.writeFileSync(config, [
            `Port ${this.port}`, "ListenAddress 127.0.0.1", `HostKey ${path.join(this.dir, "host")}`,
            `PidFile ${path.join(this.dir, "sshd.pid")}`, `AuthorizedKeysFile ${ak}/%u`,
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "UsePAM no", "PermitRootLogin no", `AllowUsers ${this.user}`,
            // The test's files live under /tmp, whose mode StrictModes refuses.
            "StrictModes no",
            ...o.config,
            "LogLevel VERBOSE",
        ].join("\n") + "\n");
        execFileSync("/usr/sbin/sshd", ["-t", "-f", config]);
        const argv = ["/usr/sbin/sshd", "-D", "-f", config, "-E", path.join(this.dir, "sshd.log")];
        this.sshd = o.launch ? o.launch(argv) : spawn(argv[0], argv.slice(1), { stdio: "ignore" });
        for (let i = 0; i < 100; i++) {
            if (this.sshdLog().includes(`Server listening on 127.0.0.1 port ${this.port}`)) return;
            spawnSync("sleep", ["0.1"]);
        }
        throw new Error(`sshd did not start:\n${this.sshdLog()}`);
    }

    sshdLog(): string {
        const f = path.join(this.dir, "sshd.log");
        return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
    }

    /** Connections sshd saw so far, accepted or not (LogLevel VERBOSE logs each "Connection from"). */
    connections(): number {
        return (this.sshdLog().match(/Connection from \S+ port \d+ on /g) ?? []).length;
    }

    /** Logins sshd accepted so far. */
    logins(): number {
        return (this.sshdLog().match(/Accepted publickey for /g) ?? []).length;
    }

    dispose(): void {
        this.sshd?.kill("SIGTERM");
        spawnSync("sleep", ["0.3"]);
        spawnSync("userdel", [this.user]);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
