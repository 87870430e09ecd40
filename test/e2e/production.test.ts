// The production path on the real engine, configured as production is: the Pulumi CLI (the
// build standing in for the official one) found on PATH as the user's own, with automatic
// plugin acquisition ON and the user's own PULUMI_HOME; the machine's Nix configured by its
// own nix.conf (NIX_CONF_DIR, as an administrator leaves it), with none of the dev stack's
// settings; a registry reached by host name over TLS, its CA trusted through
// /etc/containers/certs.d, with a password; a signed file:// binary cache. None of the offline
// dev toolchain's environment may reach any process of the run.
//
// Nix as a GPU host runs it: multi-user, through a nix-daemon that reads the machine's nix.conf,
// with the stack run by a user the daemon does not trust. The administrator's nix.conf lists
// the stack's cache in trusted-substituters, with its key, as README's host setup says.
//
// The official plugins cannot be downloaded here (no network): the command plugin is put into
// the user's PULUMI_HOME as `pulumi plugin install --file` would put a downloaded one, and the
// engine's attempts to acquire the others fail as they would offline (best effort).
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { TestNixDaemon } from "../support/nixDaemon";
import { PROJECT_FILES, REPO, TestProject, TestRegistry, must } from "../support/stack";
import { chownTree, untrustedUser } from "../support/testUser";

const HOST = "registry.layerstack.test";
const HTPASSWD = path.join(fs.mkdtempSync("/tmp/layerstack-prod-htpasswd-"), "htpasswd");
const registry = new TestRegistry(5901, { htpasswd: HTPASSWD });
const ADDRESS = `${HOST}:${registry.port}`;
const USER = "publisher";
const PASSWORD = `prod-${crypto.randomBytes(12).toString("hex")}`;
const MARKER = `prod-${crypto.randomBytes(6).toString("hex")}`;
const LAYERS = [
    { id: "layer01-base-cuda" },
    { id: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", parent: "layer02-python-tools" },
];
const work = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-prod-"));
const certsDir = `/etc/containers/certs.d/${ADDRESS}`;
let project: TestProject;
let authfile: string;
let daemon: TestNixDaemon;
const user = untrustedUser();

/** The environment of a machine with the official CLI: no dev wrapper, no dev settings. */
function productionEnv(): NodeJS.ProcessEnv {
    const official = path.join(work, "official-bin");
    fs.mkdirSync(official, { recursive: true });
    // The CLI next to its bundled language host, as an official install lays them out.
    fs.symlinkSync(fs.realpathSync(path.join(REPO, ".layerstack/libexec/pulumi")), path.join(official, "pulumi"));
    const home = path.join(work, "pulumi-home");
    const env: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
        if (/^(PULUMI_|LAYERSTACK_|NIX_)/.test(k)) continue;
        env[k] = v;
    }
    const devBin = path.join(REPO, ".layerstack/bin");
    env.PATH = [official, ...(process.env.PATH ?? "").split(":").filter((d) => d && path.resolve(d) !== devBin)].join(":");
    env.PULUMI_HOME = home;
    env.NIX_CONF_DIR = path.join(work, "etc-nix");
    env.PROD_TEST_MARKER = MARKER;
    // The one acquired plugin the stack's resources need, where acquisition would put it.
    const standIn = fs.realpathSync(path.join(path.dirname(fs.realpathSync(path.join(REPO, ".layerstack/libexec/pulumi"))), "pulumi-resource-command"));
    must(run("pulumi", ["plugin", "install", "resource", "command", "1.2.1", "--file", standIn], env), "plugin install");
    return env;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv, input?: string) {
    const r = spawnSync(cmd, args, { env, encoding: "utf8", input, maxBuffer: 64 * 1024 * 1024 });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

/** Environments of live processes of this run (they carry MARKER), sampled every 50 ms. */
class EnvSampler {
    envs = new Map<number, { argv0: string; env: Map<string, string> }>();
    private timer?: NodeJS.Timeout;
    start(): void {
        this.timer = setInterval(() => {
            for (const pid of fs.readdirSync("/proc")) {
                if (!/^\d+$/.test(pid) || this.envs.has(Number(pid))) continue;
                try {
                    const raw = fs.readFileSync(`/proc/${pid}/environ`, "utf8");
                    if (!raw.includes(`PROD_TEST_MARKER=${MARKER}`)) continue;
                    const argv0 = fs.readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0")[0];
                    const env = new Map(raw.split("\0").filter(Boolean).map((kv) => [kv.slice(0, kv.indexOf("=")), kv.slice(kv.indexOf("=") + 1)]));
                    this.envs.set(Number(pid), { argv0: path.basename(argv0), env });
                } catch { /* gone */ }
            }
        }, 50);
    }
    stop(): void { clearInterval(this.timer); }
}

beforeAll(() => {
    // TLS: a throwaway CA and a certificate for the registry's host name.
    const tls = path.join(work, "tls");
    fs.mkdirSync(tls);
    const ssl = (...a: string[]) => execFileSync("openssl", a, { cwd: tls, stdio: ["ignore", "pipe", "pipe"] });
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=layerstack test CA", "-keyout", "ca.key", "-out", "ca.crt");
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${HOST}`, "-keyout", "server.key", "-out", "server.csr");
    fs.writeFileSync(path.join(tls, "san.ext"), `subjectAltName=DNS:${HOST}\n`);
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt");
    fs.mkdirSync(certsDir, { recursive: true });
    fs.copyFileSync(path.join(tls, "ca.crt"), path.join(certsDir, "ca.crt"));
    // The host name resolves to the loopback, as a real registry's resolves to its address.
    const hosts = fs.readFileSync("/etc/hosts", "utf8");
    if (!new RegExp(`\\s${HOST.replace(/\./g, "\\.")}(\\s|$)`).test(hosts)) fs.appendFileSync("/etc/hosts", `\n127.0.0.1 ${HOST}\n`);
    execFileSync("htpasswd", ["-iBc", HTPASSWD, USER], { input: PASSWORD, stdio: ["pipe", "ignore", "ignore"] });
    registry.tls = { cert: path.join(tls, "server.crt"), key: path.join(tls, "server.key") };
    registry.start();

    // The binary cache's signing key.
    const keys = path.join(work, "cache-key");
    fs.mkdirSync(keys);
    execFileSync("nix-store", ["--generate-binary-cache-key", "prod-cache-1", path.join(keys, "secret"), path.join(keys, "public")]);

    // The machine's own Nix configuration, as its administrator wrote it, read by its daemon
    // and its clients: this machine has no network (no substituter to wait on), no namespaces
    // for a sandbox and no build users; the stack's cache is one its users may add, with its key.
    fs.mkdirSync(path.join(work, "etc-nix"));
    fs.writeFileSync(path.join(work, "etc-nix", "nix.conf"), [
        "substituters =", "sandbox = false", "build-users-group =", "trusted-users = root",
        `trusted-substituters = file://${path.join(work, "binary-cache")}`,
        `trusted-public-keys = ${fs.readFileSync(path.join(keys, "public"), "utf8").trim()}`, "",
    ].join("\n"));
    daemon = new TestNixDaemon({ confDir: path.join(work, "etc-nix") });
    daemon.start();

    project = new TestProject("production", { user });
    // Not the harness's dev-toolchain environment: the production one, whole, as the host's user.
    for (const k of Object.keys(project.env)) delete project.env[k];
    Object.assign(project.env, productionEnv(), { HOME: user.home, USER: user.name, LOGNAME: user.name },
        // Where this host's daemon listens: a user who cannot write the store reaches it there.
        { NIX_DAEMON_SOCKET_PATH: daemon.socket });
    // The cache's directory is the publishing user's, made before the daemon (root) opens it
    // as a substituter (src/libstore/local-binary-cache-store.cc init makes what is missing).
    for (const sub of ["nar", "realisations", "log", "debuginfo"]) fs.mkdirSync(path.join(work, "binary-cache", sub), { recursive: true });
    chownTree(work, user);
    project.env.PULUMI_BACKEND_URL = `file://${project.stateDir}`;
    project.env.PULUMI_CONFIG_PASSPHRASE = "a-user-passphrase";
    project.init({
        "layerstack:flake": `path:${project.flakeDir}`,
        "layerstack:registry": ADDRESS,
        "layerstack:repository": "acme/megapak",
        "layerstack:registryUsername": USER,
        "layerstack:layers": LAYERS,
        "layerstack:cache": "nix-store",
        "layerstack:cacheUrl": `file://${path.join(work, "binary-cache")}`,
        "layerstack:cachePublicKey": fs.readFileSync(path.join(keys, "public"), "utf8").trim(),
    }, {
        "layerstack:registryPassword": PASSWORD,
        "layerstack:cacheSigningKey": fs.readFileSync(path.join(keys, "secret"), "utf8").trim(),
    });
    authfile = path.join(work, "auth.json");
    must(run("skopeo", ["login", "--authfile", authfile, "--username", USER, "--password-stdin", ADDRESS], process.env, PASSWORD), "skopeo login");
});

afterAll(() => {
    registry.dispose();
    project?.dispose();
    daemon?.dispose();
    fs.rmSync(certsDir, { recursive: true, force: true });
    fs.rmSync(work, { recursive: true, force: true });
});

describe("a production-shaped stack", () => {
    const sampler = new EnvSampler();
    let first: { code: number; stdout: string; stderr: string };

    test("up publishes every layer to the TLS registry by host name, with the password, and fills the signed cache", async () => {
        sampler.start();
        const r = project.pulumiAsync(["up", "--yes", "--skip-preview"]);
        first = await r.done;
        sampler.stop();
        expect(first.stdout + first.stderr).not.toContain(PASSWORD);
        must(first, "up");
        // The daemon takes the cache from this untrusted user, as its nix.conf says.
        expect(first.stdout + first.stderr).not.toContain("ignoring untrusted substituter");
        expect(first.stdout + first.stderr).not.toContain("the Nix daemon ignores it");
        const layers = project.outputs().layers;
        expect(Object.keys(layers).sort()).toEqual(LAYERS.map((l) => l.id));
        let parentLayers = 0;
        for (const l of LAYERS) {
            const { imageRef, digest } = layers[l.id];
            expect(imageRef).toBe(`${ADDRESS}/acme/megapak/${l.id}@${digest}`);
            // Verified TLS (the CA from certs.d), with the credentials: no --tls-verify=false.
            const info = JSON.parse(must(run("skopeo", ["inspect", "--authfile", authfile, `docker://${imageRef}`], process.env), `inspect ${l.id}`).stdout);
            expect(info.Digest).toBe(digest);
            expect(info.Layers).toHaveLength(parentLayers + 1);
            parentLayers = info.Layers.length;
        }
        // Anonymous access is refused: the password really guards the registry.
        const anon = run("skopeo", ["inspect", "--no-creds", `docker://${layers["layer01-base-cuda"].imageRef}`], process.env);
        expect(anon.code).not.toBe(0);
        // Every layer's closure is in the cache, signed by the cache's key.
        for (const l of LAYERS) {
            const out = layers[l.id].outPath;
            const sigs = run("nix", ["--extra-experimental-features", "nix-command", "path-info", "--sigs", "--store", `file://${path.join(work, "binary-cache")}`, out],
                { ...process.env, NIX_CONF_DIR: path.join(work, "etc-nix") });
            expect(sigs.stdout).toContain("prod-cache-1:");
        }
        expect(project.filesContaining(PASSWORD)).toEqual([]);
    });

    test("no process of the run had the offline toolchain's settings: plugin downloads on, no offline NIX_CONFIG", () => {
        const seen = [...sampler.envs.values()];
        const names = new Set(seen.map((p) => p.argv0));
        // The sampler saw the engine, the language host, the provider, Nix and skopeo.
        for (const n of ["pulumi", "pulumi-language-nodejs", "pulumi-resource-command", "nix-store", "skopeo"]) expect(names).toContain(n);
        const offending = seen.filter(({ env }) => env.has("PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION")
            || env.has("LAYERSTACK_DEV_TOOLCHAIN")
            || /^\s*substituters\s*=\s*$/m.test(env.get("NIX_CONFIG") ?? ""));
        expect(offending.map((p) => p.argv0)).toEqual([]);
        // What the stack itself gave Nix: nothing (the cache pushes: the system's Nix as it is)
        // or, for the builds and pushes, only its cache's `extra-` settings.
        const nixStores = seen.filter((p) => p.argv0 === "nix-store");
        const nixConfigs = new Set(nixStores.map((p) => p.env.get("NIX_CONFIG")).filter((c): c is string => c !== undefined));
        expect([...nixConfigs]).toEqual([
            `extra-substituters = file://${path.join(work, "binary-cache")}\nextra-trusted-public-keys = ${fs.readFileSync(path.join(work, "cache-key", "public"), "utf8").trim()}`,
        ]);
    });

    test("the engine tried to acquire the official plugins the stack's packages name", () => {
        const r = project.pulumi(["preview", "-v=7", "--logtostderr"]);
        must(r, "preview");
        for (const p of ["github 6.15.0", "docker 5.2.0"]) expect(r.stderr).toContain(`plugin ${p} not installed, doing install`);
        expect(r.stderr).toContain("plugin command 1.2.1 already installed");
    });

    test("a second up changes nothing (--expect-no-changes)", () => {
        must(project.pulumi(["up", "--yes", "--expect-no-changes", "--skip-preview"]), "up --expect-no-changes");
    });
});

test("`pulumi preview --stack cu130` with no user keys names every required key, not a placeholder or a plugin", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-cu130-"));
    try {
        for (const f of [...PROJECT_FILES, "Pulumi.cu130.yaml"]) {
            fs.cpSync(path.join(REPO, f), path.join(dir, f), { recursive: true, filter: (src) => !src.endsWith(".test.ts") });
        }
        fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
        fs.mkdirSync(path.join(dir, ".state"));
        const env = { ...project.env, PULUMI_BACKEND_URL: `file://${dir}/.state`, PULUMI_CONFIG_PASSPHRASE: "x", PULUMI_HOME: path.join(dir, ".home") };
        const pulumi = (args: string[]) => {
            const r = spawnSync("pulumi", [...args, "--stack", "cu130", "--non-interactive"], { cwd: dir, env, encoding: "utf8" });
            return { code: r.status ?? -1, out: r.stdout + r.stderr };
        };
        expect(pulumi(["stack", "init"]).code).toBe(0);
        const r = pulumi(["preview"]);
        expect(r.code).not.toBe(0);
        expect(r.out).toContain("error: 4 problems:");
        for (const line of [
            "- layerstack:flake is required",
            "- layerstack:repository is required",
            "- layerstack:cachixCache is required when layerstack:cache is cachix (the name of an existing cache; Cachix has no API to create one)",
            "- layerstack:cachixAuthToken is required when layerstack:cache is cachix (set it with: pulumi config set --secret layerstack:cachixAuthToken)",
        ]) expect(r.out).toContain(line);
        expect(r.out).not.toMatch(/plugin|OWNER|owner\/megapak/i);
        // The committed production stacks carry no placeholder at all.
        for (const s of ["cu130", "cu128"]) {
            const text = fs.readFileSync(path.join(REPO, `Pulumi.${s}.yaml`), "utf8").split("\n").filter((l) => !l.startsWith("#")).join("\n");
            expect(text).not.toMatch(/OWNER|owner\/|megapak|layerstack:(flake|repository|cachixCache|githubOwner|githubRepository|runnerHost):/);
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

