import { spawn, spawnSync, execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { parse as parseYaml } from "yaml";
import { joinNixConfigText } from "../../lib/nix";
import { TestUser, chownTree } from "./testUser";

export const REPO = path.resolve(__dirname, "../..");

/**
 * The dev stack's Nix settings (`layerstack:nixConfig` in Pulumi.dev.yaml): this machine's
 * Nix, offline. The tests' dev-world stacks get them as that key, as the dev stack does, and
 * the harness's own Nix calls (nixEnv) run with them; nothing puts them in NIX_CONFIG for a stack.
 */
export const DEV_NIX_CONFIG: string = (() => {
    const v = parseYaml(fs.readFileSync(path.join(REPO, "Pulumi.dev.yaml"), "utf8"))?.config?.["layerstack:nixConfig"];
    if (typeof v !== "string" || !v.trim()) throw new Error("Pulumi.dev.yaml has no layerstack:nixConfig");
    return v;
})();

/**
 * `env` with the dev stack's Nix settings (and the `nix` command, which the harness's own calls
 * use) in front of its NIX_CONFIG: for the harness's own nix calls, never for a stack.
 */
export function devNixEnv(env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv {
    return { ...env, NIX_CONFIG: joinNixConfigText(DEV_NIX_CONFIG, "extra-experimental-features = nix-command flakes", env.NIX_CONFIG) };
}

/** What a process printed and how it ended. */
export interface Run {
    code: number;
    stdout: string;
    stderr: string;
}

/** Files and folders that make up the Pulumi project (copied into each test's own directory). */
export const PROJECT_FILES = ["Pulumi.yaml", "index.ts", "layerstack.ts", "package.json", "tsconfig.json", "settings", "lib", "components", "layers"];

/**
 * A throwaway copy of the project with its own file backend, stack, fixture flake and
 * (optionally) argv-logging shims for nix, nix-store, skopeo and cachix. It runs the real
 * `pulumi` from PATH (scripts/env.sh must have been sourced: scripts/test.sh does that).
 */
export class TestProject {
    readonly dir: string;
    readonly stateDir: string;
    readonly flakeDir: string;
    readonly argvLog: string;
    readonly env: NodeJS.ProcessEnv;

    /** Runs the stack's processes as this user (the daemon's untrusted user), not root. @default root */
    readonly user?: TestUser;

    constructor(readonly stack: string, opts: { passphrase?: string; shims?: boolean; user?: TestUser } = {}) {
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `layerstack-${stack}-`));
        for (const f of PROJECT_FILES) fs.cpSync(path.join(REPO, f), path.join(this.dir, f), { recursive: true, filter: (src) => !src.endsWith(".test.ts") });
        fs.symlinkSync(path.join(REPO, "node_modules"), path.join(this.dir, "node_modules"));
        this.flakeDir = path.join(this.dir, "flake");
        fs.cpSync(path.join(REPO, "fixtures/megapak"), this.flakeDir, { recursive: true });
        this.stateDir = path.join(this.dir, ".state");
        fs.mkdirSync(this.stateDir);
        this.argvLog = path.join(this.dir, "argv.log");
        let PATH = process.env.PATH!;
        if (opts.shims) PATH = `${makeShims(path.join(this.dir, "shims"))}:${PATH}`;
        this.env = {
            ...process.env,
            PATH,
            PULUMI_BACKEND_URL: `file://${this.stateDir}`,
            PULUMI_CONFIG_PASSPHRASE: opts.passphrase ?? "layerstack-test",
            LAYERSTACK_ARGV_LOG: this.argvLog,
            // The offline dev toolchain (scripts/lib/pulumi-wrapper.sh) for these throwaway stacks.
            LAYERSTACK_DEV_TOOLCHAIN: "1",
            // The end-of-run table costs a second per up; test/e2e/branches.test.ts checks it.
            LAYERSTACK_RUN_TABLE: "0",
        };
        delete this.env.PULUMI_CONFIG_PASSPHRASE_FILE;
        if (opts.user) {
            this.user = opts.user;
            Object.assign(this.env, { HOME: opts.user.home, USER: opts.user.name, LOGNAME: opts.user.name });
            // The dev CLI's PULUMI_HOME, which this user cannot write: a copy of its own (the
            // plugins hard-linked, the directories the user's, for the CLI's lock files).
            const home = path.join(opts.user.home, "pulumi-home");
            execFileSync("cp", ["-al", path.join(REPO, ".layerstack/pulumi-home"), home]);
            this.env.LAYERSTACK_PULUMI_HOME = home;
            chownTree(opts.user.home, opts.user);
            this.own();
        }
    }

    /** Gives the project's files to its user again, after the harness (root) wrote some. */
    own(): void {
        if (this.user) chownTree(this.dir, this.user);
    }

    /** spawn options that run a process as the project's user. */
    private get as(): { uid?: number; gid?: number } {
        return this.user ? { uid: this.user.uid, gid: this.user.gid } : {};
    }

    /** The environment for the harness's own nix calls: this project's, with the dev Nix settings. */
    get nixEnv(): NodeJS.ProcessEnv {
        // The harness runs as root: root's HOME, not the project user's (Nix warns of a HOME not its own).
        return devNixEnv(this.user ? { ...this.env, HOME: process.env.HOME, USER: process.env.USER, LOGNAME: process.env.LOGNAME } : this.env);
    }

    /** Runs a Nix program (`argv[0]`: nix, nix-store) with `env` (default nixEnv); never throws on a non-zero exit. */
    nix(argv: string[], env: NodeJS.ProcessEnv = this.nixEnv): Run {
        const r = spawnSync(argv[0], argv.slice(1), { env, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    }

    /** A derivation's output paths in this machine's store. */
    outputsOf(drv: string): string[] {
        return must(this.nix(["nix-store", "-q", "--outputs", drv]), `outputs of ${drv}`).stdout.trim().split("\n");
    }

    /** `nix path-info --json` of paths in this machine's store (`ultimate`: built here, not copied). */
    pathInfo(paths: string[]): { path: string; valid?: boolean; ultimate?: boolean }[] {
        return pathInfoList(must(this.nix(["nix", "path-info", "--json", ...paths]), "nix path-info").stdout);
    }

    /**
     * A file:// binary cache's directory, made for this project's user before the daemon (root)
     * opens it as a substituter and would make it, and its subdirectories, root's
     * (NixOS/nix 2.26.3 src/libstore/local-binary-cache-store.cc init).
     */
    binaryCacheDir(dir: string): string {
        for (const sub of ["nar", "realisations", "log", "debuginfo"]) fs.mkdirSync(path.join(dir, sub), { recursive: true });
        this.own();
        return dir;
    }

    /** Runs pulumi with the stack selected; never throws on a non-zero exit. */
    pulumi(args: string[], opts: { input?: string } = {}): Run {
        const r = spawnSync("pulumi", [...args, "--stack", this.stack, "--non-interactive"], {
            cwd: this.dir, env: this.env, encoding: "utf8", input: opts.input, maxBuffer: 256 * 1024 * 1024, ...this.as,
        });
        return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
    }

    /** Like `pulumi`, but asynchronous, so a test can act while it runs (kill it, stop the registry). */
    pulumiAsync(args: string[]) {
        const child = spawn("pulumi", [...args, "--stack", this.stack, "--non-interactive"], { cwd: this.dir, env: this.env, detached: true, ...this.as });
        let stdout = "", stderr = "";
        child.stdout.on("data", (d) => (stdout += d));
        child.stderr.on("data", (d) => (stderr += d));
        const done = new Promise<Run>((resolve) => child.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr })));
        return { child, done, output: () => stdout + stderr };
    }

    init(config: Record<string, string | object>, secrets: Record<string, string> = {}): void {
        must(this.pulumi(["stack", "init"]), "stack init");
        for (const [k, v] of Object.entries(config)) this.setConfig(k, v);
        // Secrets go in on stdin, never in argv.
        for (const [k, v] of Object.entries(secrets)) must(this.pulumi(["config", "set", "--secret", k], { input: v }), `config set --secret ${k}`);
    }

    /**
     * Inits the stack on the test's fixture flake, publishing to `registry` under
     * `layerstack/megapak` (the minimal stack), plus any other keys and secrets.
     */
    initFor(registry: TestRegistry, config: Record<string, string | object> = {}, secrets: Record<string, string> = {}): void {
        this.init({
            "layerstack:flake": `path:${this.flakeDir}`,
            "layerstack:registry": registry.address,
            "layerstack:repository": "layerstack/megapak",
            "layerstack:nixConfig": DEV_NIX_CONFIG,
            ...config,
        }, secrets);
    }

    /** Sets a config value: strings with `pulumi config set`, objects as YAML in the stack's file. */
    setConfig(key: string, value: string | object): void {
        if (typeof value === "string") {
            must(this.pulumi(["config", "set", key, value]), `config set ${key}`);
            return;
        }
        // This CLI's `config set` has no --json; a structured value is written as flow YAML.
        const file = path.join(this.dir, `Pulumi.${this.stack}.yaml`);
        const lines = fs.existsSync(file) ? fs.readFileSync(file, "utf8").split("\n") : [];
        const out: string[] = [];
        for (let i = 0; i < lines.length; i++) {
            if (lines[i].startsWith(`  ${key}:`)) {
                while (i + 1 < lines.length && lines[i + 1].startsWith("    ")) i++;
                continue;
            }
            out.push(lines[i]);
        }
        let at = out.indexOf("config:");
        if (at < 0) { out.push("config:"); at = out.length - 1; }
        out.splice(at + 1, 0, `  ${key}: ${JSON.stringify(value)}`);
        fs.writeFileSync(file, out.join("\n"));
        this.own();
    }

    up(extra: string[] = []): Run {
        return this.pulumi(["up", "--yes", "--skip-preview", ...extra]);
    }

    outputs(): Record<string, any> {
        return JSON.parse(must(this.pulumi(["stack", "output", "--json", "--show-secrets"]), "stack output").stdout);
    }

    /** The resources in the stack's state, by URN. */
    resources(): any[] {
        return JSON.parse(must(this.pulumi(["stack", "export"]), "stack export").stdout).deployment.resources ?? [];
    }

    /** Lines of the argv log written by the shims since `from`, each as an argv array. */
    argv(from = 0): string[][] {
        if (!fs.existsSync(this.argvLog)) return [];
        return fs.readFileSync(this.argvLog, "utf8").split("\n").slice(from).filter(Boolean).map((l) => JSON.parse(l));
    }

    argvCount(): number {
        return this.argv().length;
    }

    /** Sets one fixture layer's field in the copied flake (its content, sleep, broken flag). */
    editFixtureLayer(attr: string, change: Record<string, unknown>): void {
        const file = path.join(this.flakeDir, "layers.json");
        const spec = JSON.parse(fs.readFileSync(file, "utf8"));
        const layer = spec.layers.find((l: any) => l.attr === attr);
        if (!layer) throw new Error(`no fixture layer ${attr}`);
        Object.assign(layer, change);
        fs.writeFileSync(file, JSON.stringify(spec, null, 2));
        this.own();
    }

    dispose(): void {
        fs.rmSync(this.dir, { recursive: true, force: true });
        if (this.user) fs.rmSync(this.user.home, { recursive: true, force: true });
    }

    /** The stack's checkpoint as `pulumi stack export` gives it (resources and pending operations). */
    deployment(): { resources?: any[]; pending_operations?: any[] } {
        return JSON.parse(must(this.pulumi(["stack", "export"]), "stack export").stdout).deployment;
    }

    /** Files under `dir` (default: the backend directory) whose bytes, or gunzipped bytes, contain `needle`. */
    filesContaining(needle: string, dir = this.stateDir): string[] {
        const hits: string[] = [];
        const walk = (d: string) => {
            for (const e of fs.readdirSync(d, { withFileTypes: true })) {
                const p = path.join(d, e.name);
                if (e.isDirectory()) walk(p);
                else if (e.isFile()) {
                    let data = fs.readFileSync(p);
                    if (data[0] === 0x1f && data[1] === 0x8b) data = require("zlib").gunzipSync(data);
                    if (data.includes(needle)) hits.push(p);
                }
            }
        };
        walk(dir);
        return hits;
    }

    /** Every file under `dir` (default: the backend directory), recursively. */
    filesUnder(dir = this.stateDir): string[] {
        return fs.readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => path.join((e as any).parentPath ?? (e as any).path, e.name));
    }
}

/**
 * `nix path-info --json`'s answer as a list of {path, valid, ...}: Nix 2.19 and later answer an
 * object keyed by path, null for a path the store lacks (lib/forecast.ts parsePathInfo).
 */
export function pathInfoList(json: string): { path: string; valid?: boolean; ultimate?: boolean }[] {
    const v = JSON.parse(json);
    return Array.isArray(v) ? v : Object.entries(v).map(([p, info]) => (info ? { path: p, valid: true, ...(info as object) } : { path: p, valid: false }));
}

export function must(r: Run, what: string): Run {
    if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
    return r;
}

/**
 * Shims that log each call's argv as one JSON line to $LAYERSTACK_ARGV_LOG, then exec the
 * real program. Used to count builds and pushes and to prove no secret is in any argv.
 */
export function makeShims(dir: string): string {
    fs.mkdirSync(dir, { recursive: true });
    for (const prog of ["nix", "nix-store", "skopeo", "cachix"]) {
        const real = spawnSync("sh", ["-c", `command -v ${prog}`], { encoding: "utf8" }).stdout.trim();
        if (!real) continue;
        fs.writeFileSync(path.join(dir, prog), `#!/bin/sh
node -e 'require("fs").appendFileSync(process.env.LAYERSTACK_ARGV_LOG, JSON.stringify(process.argv.slice(1)) + "\\n")' -- ${prog} "$@"
exec ${real} "$@"
`, { mode: 0o755 });
    }
    return dir;
}

/** A registry of our own for one test file: its port, its directory, its access log. */
export class TestRegistry {
    readonly dir: string;
    readonly port: number;
    /**
     * `port` plus LAYERSTACK_TEST_PORT_OFFSET (default 0), so that two checkouts can run the
     * same suites side by side on one machine.
     */
    /** Serve HTTPS with this certificate and key (set before start()). @default plain HTTP */
    tls?: { cert: string; key: string };
    /** Answer the first N blob-upload PATCH requests after start() with 502, as a failing gateway does (set before start()). @default 0 */
    failUploads = 0;
    constructor(port: number, opts: { htpasswd?: string } = {}) {
        this.port = port + testPortOffset();
        this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `layerstack-registry-${port}-`));
        this.auth = opts.htpasswd;
    }
    private auth?: string;
    get address(): string { return `127.0.0.1:${this.port}`; }
    private run(cmd: string): void {
        const extra = cmd !== "start" ? [] : [...(this.auth ? ["--auth", this.auth] : []), ...(this.tls ? ["--tls", this.tls.cert, this.tls.key] : [])];
        execFileSync("bash", [path.join(REPO, "scripts/registry.sh"), cmd, ...extra], {
            env: { ...process.env, LAYERSTACK_REGISTRY_PORT: String(this.port), LAYERSTACK_REGISTRY_DIR: this.dir, LAYERSTACK_REGISTRY_FAIL_UPLOADS: String(this.failUploads) },
            stdio: ["ignore", "pipe", "pipe"],
        });
    }
    start(): void { this.run("start"); }
    stop(): void { this.run("stop"); }
    accessLog(): string {
        const f = path.join(this.dir, "access.log");
        return fs.existsSync(f) ? fs.readFileSync(f, "utf8") : "";
    }
    /**
     * Digests of blobs uploaded since `fromLine`: completed uploads, `PUT .../blobs/uploads/<id>?digest=` with 201.
     * (A cross-repository mount is a POST and uploads no bytes.) Log format: scripts/lib/registry-proxy.mjs.
     */
    uploadedBlobs(fromLine = 0): string[] {
        return this.accessLog().split("\n").slice(fromLine)
            .map((l) => / PUT \/v2\/\S*\/blobs\/uploads\/\S*\?digest=sha256(?:%3A|:)([0-9a-f]{64}) 201 /.exec(l))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => `sha256:${m[1]}`);
    }
    accessLogLines(): number { return this.accessLog().split("\n").length - 1; }
    /** Bytes the registry received in blob uploads (PATCH and PUT bodies) since `fromLine`. */
    uploadedBytes(fromLine = 0): number {
        return this.accessLog().split("\n").slice(fromLine)
            .map((l) => l.split(" "))
            .filter((f) => (f[1] === "PATCH" || f[1] === "PUT") && f[2]?.includes("/blobs/uploads/"))
            .reduce((sum, f) => sum + Number(f[4]), 0);
    }
    /** Size in bytes of a blob the registry stores. */
    blobSize(digest: string): number {
        const hex = digest.replace("sha256:", "");
        return fs.statSync(path.join(this.dataDir(), "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data")).size;
    }
    dataDir(): string { return path.join(this.dir, "data"); }
    dispose(): void {
        try { this.stop(); } catch { /* already stopped */ }
        fs.rmSync(this.dir, { recursive: true, force: true });
    }

    /** Repositories (`layerstack/megapak/<id>`) that hold at least one tag, read from the registry's storage. */
    repositories(): string[] {
        const root = path.join(this.dataDir(), "docker/registry/v2/repositories");
        if (!fs.existsSync(root)) return [];
        const out: string[] = [];
        const walk = (rel: string) => {
            const abs = path.join(root, rel);
            if (fs.existsSync(path.join(abs, "_manifests/tags")) && fs.readdirSync(path.join(abs, "_manifests/tags")).length) out.push(rel);
            for (const e of fs.readdirSync(abs, { withFileTypes: true })) if (e.isDirectory() && !e.name.startsWith("_")) walk(path.join(rel, e.name));
        };
        for (const e of fs.readdirSync(root, { withFileTypes: true })) if (e.isDirectory()) walk(e.name);
        return out.sort();
    }

    /** Tags of one repository, read from the registry's storage (needs no credentials). */
    tags(repository: string): string[] {
        const d = path.join(this.dataDir(), "docker/registry/v2/repositories", repository, "_manifests/tags");
        return fs.existsSync(d) ? fs.readdirSync(d).sort() : [];
    }

    /** Manifest PUTs (`PUT /v2/<repo>/manifests/<ref>` answered 201) since `fromLine`, as `<repo>:<ref>`. */
    manifestPuts(fromLine = 0): string[] {
        return this.accessLog().split("\n").slice(fromLine)
            .map((l) => / PUT \/v2\/(\S+)\/manifests\/(\S+) 201 /.exec(l))
            .filter((m): m is RegExpExecArray => m !== null)
            .map((m) => `${m[1]}:${m[2]}`);
    }
}

/** LAYERSTACK_TEST_PORT_OFFSET, added to every fixed port a test listens on. */
export function testPortOffset(): number {
    const v = process.env.LAYERSTACK_TEST_PORT_OFFSET ?? "0";
    if (!/^\d+$/.test(v)) throw new Error(`LAYERSTACK_TEST_PORT_OFFSET must be a whole number, got ${JSON.stringify(v)}`);
    return Number(v);
}

/** `skopeo inspect` of an image in a loopback registry. */
export function inspect(ref: string, raw = false): any {
    const out = execFileSync("skopeo", ["inspect", ...(raw ? ["--raw"] : []), "--tls-verify=false", `docker://${ref}`], { encoding: "utf8" });
    return JSON.parse(out);
}
