// Starts test/support/github-standin.js (GitHub's REST endpoints for the runner) as its own
// process on 127.0.0.1, so it answers while a test waits on `pulumi` synchronously.
import { ChildProcess, spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO, testPortOffset } from "./stack";

/** One request the stand-in answered (github-standin.js logs no token, only sha256 prefixes). */
export interface ApiRequest {
    method: string;
    path: string;
    query: string;
    status: number;
    auth?: string;
    minted?: string;
    jit?: string;
    runner?: string;
    labels?: string[];
    replaced?: boolean;
    work_folder?: string;
    variable?: string;
    secret?: string;
}

export const sha16 = (s: string) => crypto.createHash("sha256").update(s).digest("hex").slice(0, 16);

export class GithubStandin {
    readonly port: number;
    readonly dir: string;
    readonly releases: string;
    private child?: ChildProcess;

    constructor(port: number, private opts: { tokens: string[]; repo: string; visibility?: string; tokenPrefix?: string }) {
        this.port = port + testPortOffset();
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-github-"));
        this.releases = path.join(this.dir, "releases");
        fs.mkdirSync(this.releases);
    }

    get url(): string { return `http://127.0.0.1:${this.port}`; }
    get logFile(): string { return path.join(this.dir, "requests.jsonl"); }

    start(): void {
        fs.writeFileSync(this.logFile, "");
        this.child = spawn(process.execPath, [path.join(REPO, "test/support/github-standin.js")], {
            stdio: ["ignore", "pipe", "inherit"],
            env: {
                PATH: process.env.PATH, STANDIN_PORT: String(this.port), STANDIN_LOG: this.logFile,
                STANDIN_TOKENS: this.opts.tokens.map((t) => crypto.createHash("sha256").update(t).digest("hex")).join(","),
                STANDIN_REPO: this.opts.repo, STANDIN_VISIBILITY: this.opts.visibility ?? "private", STANDIN_RELEASES: this.releases,
                STANDIN_TOKEN_PREFIX: this.opts.tokenPrefix ?? "AREG",
            },
        });
        for (let i = 0; i < 100; i++) {
            if (spawnSync("curl", ["-s", "-o", "/dev/null", `${this.url}/_standin/ping`]).status === 0) return;
            spawnSync("sleep", ["0.1"]);
        }
        throw new Error("the GitHub stand-in did not start");
    }

    /** The repository's Actions variables (name -> value) and secrets (name -> sha256 prefix of the value). */
    actions(): { variables: Record<string, string>; secrets: Record<string, string> } {
        return JSON.parse(spawnSync("curl", ["-s", "-f", `${this.url}/_standin/actions`], { encoding: "utf8" }).stdout);
    }

    setVisibility(v: string): void {
        spawnSync("curl", ["-s", "-X", "POST", "--data-binary", v, `${this.url}/_standin/visibility`]);
    }

    requests(): ApiRequest[] {
        return fs.readFileSync(this.logFile, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
    }

    /** Requests to the REST API proper (not the stand-in runner's own calls, not downloads). */
    apiRequests(): ApiRequest[] {
        return this.requests().filter((r) => r.path.startsWith("/repos/"));
    }

    dispose(): void {
        this.child?.kill("SIGTERM");
        fs.rmSync(this.dir, { recursive: true, force: true });
    }
}
