// A nix-daemon of a test's own, on the machine's one store, with settings of its own: a
// multi-user host's daemon, whose nix.conf (not the client's) decides which substituters and
// keys a user it does not trust may use. Started by scripts/nix-daemon.sh.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO } from "./stack";

export class TestNixDaemon {
    readonly dir: string;
    readonly socket: string;
    private readonly env: NodeJS.ProcessEnv;

    /**
     * `extra`: nix.conf lines after the dev daemon's offline ones (trusted-substituters, ...);
     * or `confDir`: a machine's nix.conf directory, used as it is; `env`: more of the daemon's
     * own environment.
     */
    constructor(opts: { extra?: string; confDir?: string; env?: NodeJS.ProcessEnv } = {}) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-nix-daemon-"));
        fs.chmodSync(this.dir, 0o755);
        this.socket = path.join(this.dir, "socket");
        this.env = {
            ...process.env, LAYERSTACK_NIX_DAEMON_DIR: this.dir, NIX_DAEMON_SOCKET_PATH: this.socket,
            ...(opts.extra ? { LAYERSTACK_NIX_DAEMON_EXTRA: opts.extra } : {}),
            ...(opts.confDir ? { LAYERSTACK_NIX_CONF_DIR: opts.confDir } : {}),
            // The daemon's own environment (what a host gives its nix-daemon service).
            ...opts.env,
        };
    }

    /** What a client needs to reach this daemon (with NIX_REMOTE=daemon, or as a user who cannot write the store). */
    get clientEnv(): NodeJS.ProcessEnv {
        return { NIX_REMOTE: "daemon", NIX_DAEMON_SOCKET_PATH: this.socket };
    }

    /** What the daemon (and the build hooks it runs) wrote to its log. */
    log(): string {
        const f = path.join(this.dir, "daemon.log");
        return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
    }

    start(): void {
        execFileSync("bash", [path.join(REPO, "scripts/nix-daemon.sh"), "start"], { env: this.env, stdio: ["ignore", "pipe", "pipe"] });
    }

    dispose(): void {
        try { execFileSync("bash", [path.join(REPO, "scripts/nix-daemon.sh"), "stop"], { env: this.env, stdio: ["ignore", "pipe", "pipe"] }); } catch { /* not running */ }
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
