// A Nix remote builder for test/e2e/builders.test.ts: a second machine with its own store, on
// this one. Debian's openssh-server listens on 127.0.0.1 in a mount namespace of its own, in
// which /nix is a directory of the test's: every session (and so the builder user's
// `nix-daemon --stdio`, which ssh-ng:// runs: NixOS/nix 2.8.0 src/libstore/ssh-store.cc) sees
// that store, its database and its logs, never this machine's /nix. The builder's Nix settings
// are its own too (NIX_CONF_DIR). Throwaway user, key and host key, as test/support/gpuHost.ts.
//
// Why not `?remote-store=local?root=<dir>` on the URI: Nix 2.8 builds in a store whose real
// directory differs from /nix/store only inside its sandbox ("building using a diverted store",
// src/libstore/build/local-derivation-goal.cc forces useChroot), and the fixture's builders
// use the host's /bin/sh and tools, which a sandbox does not have.
import { ChildProcess, execFileSync, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO, testPortOffset } from "./stack";

function keyLine(pubFile: string): string {
    return fs.readFileSync(pubFile, "utf8").trim().split(/\s+/).slice(0, 2).join(" ");
}

export class NixBuilderHost {
    readonly dir: string;
    readonly user: string;
    readonly port: number;
    /** The builder's /nix, as this machine sees it. */
    readonly nixDir: string;
    /** The host key sshd presents (`ssh-ed25519 AAAA...`). */
    readonly hostKey: string;
    /** Another machine's host key: pinning it must make the builds fail. */
    readonly otherHostKey: string;
    /** The builder user's private key (OpenSSH format). */
    readonly privateKey: string;
    private sshd?: ChildProcess;

    /** `port` is shifted by LAYERSTACK_TEST_PORT_OFFSET. */
    constructor(port: number) {
        if (process.getuid?.() !== 0) throw new Error("test/support/nixBuilder.ts needs root: it creates a throwaway user and runs sshd in a mount namespace");
        execFileSync("bash", [path.join(REPO, "test/support/openssh-server.sh")], { stdio: ["ignore", "pipe", "inherit"] });
        this.port = port + testPortOffset();
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-builder-"));
        fs.chmodSync(this.dir, 0o755);
        this.nixDir = path.join(this.dir, "nix");
        this.user = `lsnix${crypto.randomBytes(4).toString("hex")}`;
        for (const k of ["host", "other", "user"]) execFileSync("ssh-keygen", ["-q", "-t", "ed25519", "-N", "", "-C", `layerstack-e2e-${k}`, "-f", path.join(this.dir, k)]);
        this.hostKey = keyLine(path.join(this.dir, "host.pub"));
        this.otherHostKey = keyLine(path.join(this.dir, "other.pub"));
        this.privateKey = fs.readFileSync(path.join(this.dir, "user"), "utf8");
    }

    /** The URI the stack's builders line names. */
    get uri(): string { return `ssh-ng://${this.user}@127.0.0.1`; }

    /**
     * What the stack's Nix needs to reach this sshd on its port: NIX_SSHOPTS with the port, and
     * HostKeyAlias=127.0.0.1 so that the known-hosts line Nix writes for the pinned key
     * (`127.0.0.1 <key>`, ssh.cc) is the one ssh looks up (it would look for `[127.0.0.1]:<port>`).
     */
    get sshOpts(): string { return `-p ${this.port} -o HostKeyAlias=127.0.0.1`; }

    start(): void {
        const home = path.join(this.dir, "home");
        const etc = path.join(this.dir, "etc");
        fs.mkdirSync(this.nixDir);
        fs.mkdirSync(home);
        fs.mkdirSync(etc);
        // The builder machine's nix.conf: a single-user Nix of the builder user (no build users,
        // no daemon), no sandbox (the fixture builds with the host's /bin/sh), no substituters.
        fs.writeFileSync(path.join(etc, "nix.conf"), "build-users-group =\nsandbox = false\nsubstituters =\nmax-jobs = 4\nexperimental-features = nix-command\n");
        execFileSync("useradd", ["-M", "-d", home, "-s", "/bin/sh", this.user]);
        execFileSync("usermod", ["-p", "*", this.user]);
        execFileSync("chown", ["-R", `${this.user}:`, this.nixDir, home]);
        const ak = path.join(this.dir, "authorized_keys");
        fs.mkdirSync(ak, { mode: 0o755 });
        fs.copyFileSync(path.join(this.dir, "user.pub"), path.join(ak, this.user));
        fs.mkdirSync("/run/sshd", { recursive: true, mode: 0o755 });
        const config = path.join(this.dir, "sshd_config");
        fs.writeFileSync(config, [
            `Port ${this.port}`, "ListenAddress 127.0.0.1", `HostKey ${path.join(this.dir, "host")}`,
            `PidFile ${path.join(this.dir, "sshd.pid")}`, `AuthorizedKeysFile ${ak}/%u`,
            "PasswordAuthentication no", "KbdInteractiveAuthentication no", "PubkeyAuthentication yes",
            "UsePAM no", "PermitRootLogin no", `AllowUsers ${this.user}`, "StrictModes no",
            `SetEnv NIX_CONF_DIR=${etc}`,
            "LogLevel VERBOSE",
        ].join("\n") + "\n");
        execFileSync("/usr/sbin/sshd", ["-t", "-f", config]);
        // unshare (util-linux) execs the shell, which execs sshd: the child's pid is sshd's.
        this.sshd = spawn("unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c",
            'mount --bind "$1" /nix && exec /usr/sbin/sshd -D -f "$2" -E "$3"', "_", this.nixDir, config, path.join(this.dir, "sshd.log")], { stdio: "ignore" });
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

    /** Logins sshd accepted so far. */
    logins(): number {
        return (this.sshdLog().match(/Accepted publickey for /g) ?? []).length;
    }

    /**
     * Derivations the builder's Nix built: those with a build log in its store
     * (`<state>/log/nix/drvs/<2>/<rest>.drv.bz2`, src/libstore/build/derivation-goal.cc openLogFile).
     */
    builtDerivations(): string[] {
        const root = path.join(this.nixDir, "var/log/nix/drvs");
        if (!fs.existsSync(root)) return [];
        return fs.readdirSync(root).flatMap((d) => fs.readdirSync(path.join(root, d)).map((f) => `/nix/store/${d}${f.replace(/\.bz2$/, "")}`)).sort();
    }

    /** Whether a store path exists in the builder's store directory. */
    hasPath(storePath: string): boolean {
        return fs.existsSync(path.join(this.dir, storePath));
    }

    /**
     * `nix path-info --json` of paths as the builder's own Nix answers (over the same SSH, as
     * its user, so nothing of this machine writes to that store).
     */
    pathInfo(paths: string[], env: NodeJS.ProcessEnv): { path: string; valid?: boolean; ultimate?: boolean }[] {
        const keyFile = path.join(this.dir, "user");
        const store = `${this.uri}?ssh-key=${keyFile}&base64-ssh-public-host-key=${Buffer.from(this.hostKey).toString("base64")}`;
        const r = spawnSync("nix", ["path-info", "--json", "--store", store, ...paths], { env: { ...env, NIX_SSHOPTS: this.sshOpts }, encoding: "utf8" });
        if (r.status !== 0) throw new Error(`nix path-info --store ${this.uri}: ${r.stderr}`);
        return JSON.parse(r.stdout);
    }

    dispose(): void {
        this.sshd?.kill("SIGTERM");
        spawnSync("sleep", ["0.3"]);
        spawnSync("userdel", [this.user]);
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
