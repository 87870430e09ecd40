// A Nix remote builder for test/e2e/builders.test.ts: a second machine with its own store, on
// this one. Debian's openssh-server listens on 127.0.0.1 in a mount namespace of its own, in
// which /nix is a directory of the test's: every session (and so the builder user's
// `nix-daemon --stdio`, which ssh-ng:// runs: NixOS/nix 2.26.3 src/libstore/ssh-store.cc) sees
// that store, its database and its logs, never this machine's /nix. The builder's Nix settings
// are its own too (NIX_CONF_DIR). Throwaway user, key and host key: test/support/sshHost.ts.
//
// Why not `?remote-store=local?root=<dir>` on the URI: Nix 2.8 builds in a store whose real
// directory differs from /nix/store only inside its sandbox ("building using a diverted store",
// src/libstore/build/local-derivation-goal.cc forces useChroot), and the fixture's builders
// use the host's /bin/sh and tools, which a sandbox does not have.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { SshHost } from "./sshHost";
import { REPO, pathInfoList } from "./stack";

export class NixBuilderHost extends SshHost {
    /** The builder's /nix, as this machine sees it. */
    readonly nixDir: string;

    /** `port` is shifted by LAYERSTACK_TEST_PORT_OFFSET. */
    constructor(port: number) {
        super(port, "builder", "lsnix");
        this.nixDir = path.join(this.dir, "nix");
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
        // In a mount namespace of its own, /nix is the builder's: unshare (util-linux) execs the
        // shell, which execs sshd, so the child's pid is sshd's.
        this.startSshd({
            // The builder's Nix is this machine's dev Nix (nix-daemon --stdio is found on PATH).
            home, owned: [this.nixDir], config: [`SetEnv NIX_CONF_DIR=${etc} PATH=${path.join(REPO, ".layerstack/nix/bin")}:/usr/local/bin:/usr/bin:/bin`],
            launch: (argv) => spawn("unshare", ["--mount", "--propagation", "private", "--", "/bin/sh", "-c",
                'mount --bind "$1" /nix && shift && exec "$@"', "_", this.nixDir, ...argv], { stdio: "ignore" }),
        });
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
        return pathInfoList(r.stdout);
    }
}
