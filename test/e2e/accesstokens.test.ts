// A flake whose input is private: `layerstack:nixAccessTokens` (secret) gives Nix the token for
// the evaluation and every build, as `extra-access-tokens` in the environment only. Nix's
// github fetcher sends a token for the host its input names (NixOS/nix 2.26.3
// src/libfetchers/github.cc makeHeadersWithAuthTokens; an Enterprise host's API is
// https://<host>/api/v3, and `?host=` takes no port, so the stand-in listens on 443 under a
// name of its own, over TLS with a throwaway CA that the stack's Nix trusts by `ssl-cert-file`).
// Without the token the stand-in answers 404, as GitHub does for a private repository.
import { ChildProcess, execFileSync, spawn } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ArgvSampler } from "../support/argv";
import { DEV_NIX_CONFIG, TestProject, TestRegistry, must } from "../support/stack";

const HOST = "git.layerstack.test";
const TOKEN = `ghp_${crypto.randomBytes(18).toString("hex")}`;
const SHA = crypto.randomBytes(20).toString("hex");
const registry = new TestRegistry(5971);
const project = new TestProject("accesstokens", { shims: true });
const work = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-private-input-"));
const log = path.join(work, "requests.jsonl");
let host: ChildProcess;

const requests = (): { path: string; status: number; token: boolean; authorized: boolean }[] =>
    fs.existsSync(log) ? fs.readFileSync(log, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];

beforeAll(async () => {
    const ssl = (...a: string[]) => execFileSync("openssl", a, { cwd: work, stdio: ["ignore", "pipe", "pipe"] });
    ssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=layerstack private input CA", "-keyout", "ca.key", "-out", "ca.crt");
    ssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", `/CN=${HOST}`, "-keyout", "server.key", "-out", "server.csr");
    fs.writeFileSync(path.join(work, "san.ext"), `subjectAltName=DNS:${HOST}\n`);
    ssl("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2", "-extfile", "san.ext", "-out", "server.crt");
    const hosts = fs.readFileSync("/etc/hosts", "utf8");
    if (!new RegExp(`\\s${HOST.replace(/\./g, "\\.")}(\\s|$)`).test(hosts)) fs.appendFileSync("/etc/hosts", `\n127.0.0.1 ${HOST}\n`);
    // The private flake, as GitHub's tarball endpoint serves it: one top directory.
    const top = path.join(work, "tree", `acme-private-pkgs-${SHA.slice(0, 7)}`);
    fs.mkdirSync(top, { recursive: true });
    fs.writeFileSync(path.join(top, "flake.nix"), '{ outputs = { self }: { lib.note = "from the private input"; }; }\n');
    execFileSync("tar", ["-czf", path.join(work, "tree.tar.gz"), "-C", path.join(work, "tree"), path.basename(top)]);
    fs.writeFileSync(path.join(work, "host.json"), JSON.stringify({
        port: 443, cert: path.join(work, "server.crt"), key: path.join(work, "server.key"), owner: "acme", repo: "private-pkgs",
        tokenSha256: crypto.createHash("sha256").update(TOKEN).digest("hex"), tarball: path.join(work, "tree.tar.gz"),
        sha: SHA, treeSha: crypto.randomBytes(20).toString("hex"), log,
    }));
    host = spawn("node", [path.join(__dirname, "../support/private-flake-host.js"), path.join(work, "host.json")], { stdio: "inherit" });
    for (let i = 0; i < 100 && !fs.existsSync(`${log}.ready`); i++) await new Promise((r) => setTimeout(r, 100));
    if (!fs.existsSync(`${log}.ready`)) throw new Error("the private flake host did not start");

    // The build lives long enough for the argv sampler to see it.
    project.editFixtureLayer("layer01-base-cuda", { content: `base layer of the access-token test ${SHA}`, buildSeconds: 2 });
    // The fixture flake takes the private input, and its layers do not evaluate without it.
    const flake = path.join(project.flakeDir, "flake.nix");
    fs.writeFileSync(flake, fs.readFileSync(flake, "utf8")
        .replace("outputs = { self }:", `inputs.private.url = "github:acme/private-pkgs?host=${HOST}";\n\n  outputs = { self, private }: assert private.lib.note == "from the private input";`));
    // Nix's fetcher cache of this run's own (XDG_CACHE_HOME/nix): an earlier run's download of
    // the input must not stand in for this one's.
    project.env.XDG_CACHE_HOME = path.join(work, "cache");
    registry.start();
    project.initFor(registry, {
        "layerstack:layers": [{ id: "layer01-base-cuda", attr: "layer01-base-cuda" }],
        "layerstack:runChecks": "false",
        "layerstack:nixConfig": `${DEV_NIX_CONFIG.trim()}\nssl-cert-file = ${path.join(work, "ca.crt")}`,
    });
});
afterAll(() => {
    host?.kill("SIGTERM");
    registry.dispose();
    project.dispose();
    fs.rmSync(work, { recursive: true, force: true });
});

test("without layerstack:nixAccessTokens the preview fails, naming the input and the key", () => {
    const r = project.pulumi(["preview"]);
    const out = r.stdout + r.stderr;
    expect(r.code).not.toBe(0);
    expect(out).toContain("layerstack:flake: evaluating");
    // Nix's own words name the input; ours the key that would let Nix fetch it.
    expect(out).toContain("while updating the flake input 'private'");
    expect(out).toContain("HTTP error 404");
    expect(out).toContain("if an input is private, give Nix its token with layerstack:nixAccessTokens");
    expect(requests().length).toBeGreaterThan(0);
    expect(requests().every((q) => !q.token && q.status === 404)).toBe(true);
    expect(project.resources().filter((res) => !res.type.startsWith("pulumi:"))).toEqual([]);
});

test("with the token the stack publishes; the token is in no argv, output or plaintext state", async () => {
    must(project.pulumi(["config", "set", "--secret", "layerstack:nixAccessTokens"], { input: `${HOST}=${TOKEN}` }), "config set --secret");
    const sampler = new ArgvSampler({ token: TOKEN });
    sampler.start();
    // Asynchronously, so that the sampler samples while they run.
    const up = await project.pulumiAsync(["up", "--yes", "--skip-preview"]).done;
    const again = await project.pulumiAsync(["up", "--yes", "--skip-preview", "--expect-no-changes"]).done;
    sampler.stop();
    must(up, "up with the token");
    must(again, "second up --expect-no-changes");
    expect(Object.keys(project.outputs().layers)).toEqual(["layer01-base-cuda"]);
    // The stand-in saw the token (it checks its hash), and answered the commit and the tarball.
    expect(requests().filter((q) => q.authorized && q.status === 200).map((q) => q.path.split("/")[6]).sort()).toEqual(expect.arrayContaining(["commits", "tarball"]));
    // Never in clear: not in any argv, nor output, nor the backend's files, nor the shims' argv log.
    expect(sampler.hits).toEqual([]);
    expect(sampler.seen).toContain("nix-store");
    for (const r of [up, again]) expect(r.stdout + r.stderr).not.toContain(TOKEN);
    expect(project.filesContaining(TOKEN)).toEqual([]);
    expect(fs.readFileSync(project.argvLog, "utf8")).not.toContain(TOKEN);
    // The build got it, as a secret.
    const build = project.resources().find((x) => x.urn.endsWith("::layer01-base-cuda-build"));
    expect(build.inputs.environment.LAYERSTACK_NIX_ACCESS_TOKENS).toHaveProperty("ciphertext");
    expect(JSON.stringify(build)).not.toContain(TOKEN);
});
