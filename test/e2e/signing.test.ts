// Signatures, SBOMs and provenance (issue 23) on the real engine, real Nix, a password-protected
// local registry and the real cosign (v2.6.5, scripts/toolchain.sh): every layer is signed by
// digest and carries a CycloneDX SBOM equal to the store paths of its own blob (unpacked here)
// and an SLSA provenance; a second up signs nothing; a deleted signature is restored by the next
// up; a manifest pushed over a layer's tag fails `npm run verify` naming the layer; a failed
// signature stops the moving tag; with keepImages 1, after three one-layer changes, each layer
// has exactly the attachments of its kept digest; and the key's password, the private key and
// the registry password are in no argv, output, log or state file.
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { ArgvSampler } from "../support/argv";
import { REPO, Run, TestProject, TestRegistry, must } from "../support/stack";
import { sbomStorePaths } from "../../lib/sbom";

const USER = "layerstack-signer";
const REGISTRY_PASSWORD = `regpass-${crypto.randomBytes(12).toString("hex")}`;
const KEY_PASSWORD = `keypass-${crypto.randomBytes(12).toString("hex")}`;
const WRONG_KEY_PASSWORD = `wrongkeypass-${crypto.randomBytes(12).toString("hex")}`;
const LAYERS = [
    { id: "layer01-base-cuda" },
    { id: "layer02-python-tools", parent: "layer01-base-cuda" },
    // busybox in a store path of its own: a blob with store paths in it.
    { id: "nobin" },
];
const IDS = LAYERS.map((l) => l.id);
const REPO_PATH = "layerstack/megapak";
const STACK = "signing";

const keyDir = fs.mkdtempSync("/tmp/layerstack-cosign-key-");
const authDir = fs.mkdtempSync("/tmp/layerstack-signing-auth-");
const registry = new TestRegistry(5901, { htpasswd: path.join(authDir, "htpasswd") });
const project = new TestProject(STACK, { shims: true });
project.env.PULUMI_DEBUG_COMMANDS = "true";
const TMPDIR = path.join(project.dir, "tmp");
fs.mkdirSync(TMPDIR);
project.env.TMPDIR = TMPDIR;

// The test's own cosign: the registry's credentials in a Docker config of its own (outside the
// project's directories, which the scans read).
const cosignEnv: NodeJS.ProcessEnv = { ...process.env, DOCKER_CONFIG: path.join(authDir, "docker") };
/**
 * The test's own registry credentials, never in argv (every process can read it): one private
 * auth file, which cosign reads through DOCKER_CONFIG and skopeo through --authfile (its
 * containers-auth.json takes the same "auths" form), and a curl config file (`curl -K`).
 */
const AUTH_FILE = path.join(authDir, "docker", "config.json");
const CURL_AUTH = path.join(authDir, "curl-auth");
function cosign(args: string[]) {
    return spawnSync("cosign", [...args, "--allow-http-registry"], { encoding: "utf8", env: cosignEnv, maxBuffer: 256 * 1024 * 1024 });
}
function verifyArgs(kind: "verify" | "cyclonedx" | "slsaprovenance1", ref: string): string[] {
    const key = ["--key", path.join(keyDir, "cosign.pub"), "--insecure-ignore-tlog"];
    return kind === "verify" ? ["verify", ...key, ref] : ["verify-attestation", ...key, "--type", kind, ref];
}
/** The predicate of the attestation of `type` on `ref`, as cosign verified it. */
function predicate(ref: string, type: "cyclonedx" | "slsaprovenance1"): any {
    const r = cosign(verifyArgs(type, ref));
    expect({ ref, type, status: r.status, err: r.status === 0 ? "" : r.stderr }).toEqual({ ref, type, status: 0, err: "" });
    const envelope = JSON.parse(r.stdout.trim().split("\n")[0]) as { payload: string };
    return JSON.parse(Buffer.from(envelope.payload, "base64").toString("utf8")).predicate;
}
/** The store paths in an image's last layer, from the blob itself (skopeo copy to an OCI layout, then tar). */
function blobStorePaths(imageRef: string): string[] {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-blob-"));
    try {
        execFileSync("skopeo", ["copy", "--quiet", "--src-tls-verify=false", "--src-authfile", AUTH_FILE, `docker://${imageRef}`, `oci:${dir}/img`], { stdio: "pipe" });
        const index = JSON.parse(fs.readFileSync(`${dir}/img/index.json`, "utf8"));
        const blob = (d: string) => `${dir}/img/blobs/sha256/${d.replace("sha256:", "")}`;
        const manifest = JSON.parse(fs.readFileSync(blob(index.manifests[0].digest), "utf8"));
        const last = manifest.layers[manifest.layers.length - 1];
        const entries = execFileSync("sh", ["-c", `${/gzip/.test(last.mediaType) ? "gzip -dc" : "cat"} "$1" | tar -tf -`, "_", blob(last.digest)], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
        return [...new Set(entries.split("\n").map((e) => /^(?:\.\/)?\/?(nix\/store\/[0-9a-z]{32}-[^/]+)/.exec(e)).filter((m): m is RegExpExecArray => m !== null).map((m) => `/${m[1]}`))].sort();
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}
/** The registry's manifest DELETE of `<repo>:<tag>` (by its digest), with the test's credentials. */
function deleteTag(repo: string, tag: string): void {
    const auth = ["-K", CURL_AUTH];
    const digest = execFileSync("curl", ["-sSfI", ...auth, "-H", "Accept: application/vnd.oci.image.manifest.v1+json", `http://${registry.address}/v2/${repo}/manifests/${tag}`], { encoding: "utf8" })
        .split("\r\n").find((h) => /^docker-content-digest:/i.test(h))!.split(":").slice(1).join(":").trim();
    execFileSync("curl", ["-sSf", "-X", "DELETE", ...auth, `http://${registry.address}/v2/${repo}/manifests/${digest}`]);
}
/** scripts/verify.ts (what `npm run verify` runs) against this stack. */
function verify(): Run {
    const r = spawnSync("node", ["-r", "ts-node/register", path.join(REPO, "scripts/verify.ts"), "--stack", STACK], {
        cwd: project.dir, env: { ...project.env, TS_NODE_TRANSPILE_ONLY: "true", TS_NODE_PROJECT: path.join(REPO, "tsconfig.json") }, encoding: "utf8",
    });
    return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
const forms = (s: string) => [s, Buffer.from(s).toString("base64"), Buffer.from(s).toString("hex")];

let privateKey = "";
/** Distinctive parts of the private key: lines of its PEM body. */
let keyNeedles: string[] = [];
const runs: { name: string; run: Run; eventLog: string; sampler: ArgvSampler }[] = [];
function needles(): Record<string, string> {
    return { "key password": KEY_PASSWORD, "wrong key password": WRONG_KEY_PASSWORD, "registry password": REGISTRY_PASSWORD, ...Object.fromEntries(keyNeedles.map((n, i) => [`private key line ${i}`, n])) };
}
async function sampledUp(name: string, extra: string[] = []): Promise<Run> {
    const eventLog = path.join(project.dir, `events-${runs.length}.jsonl`);
    const sampler = new ArgvSampler(needles(), 50);
    sampler.start();
    let run: Run;
    try {
        run = await project.pulumiAsync(["up", "--yes", "--skip-preview", "--event-log", eventLog, ...extra]).done;
    } finally {
        sampler.stop();
    }
    runs.push({ name, run, eventLog, sampler });
    return run;
}
const out = () => project.outputs();

beforeAll(() => {
    // The key pair, as a user makes it: cosign reads the password from COSIGN_PASSWORD.
    execFileSync("cosign", ["generate-key-pair"], { cwd: keyDir, env: { ...process.env, COSIGN_PASSWORD: KEY_PASSWORD }, stdio: "pipe" });
    privateKey = fs.readFileSync(path.join(keyDir, "cosign.key"), "utf8");
    keyNeedles = privateKey.split("\n").filter((l) => l.length >= 40 && !l.startsWith("-----"));
    fs.writeFileSync(registry["auth"]!, execFileSync("htpasswd", ["-iBn", USER], { input: REGISTRY_PASSWORD, encoding: "utf8" }));
    fs.mkdirSync(path.join(authDir, "docker"));
    fs.writeFileSync(AUTH_FILE, JSON.stringify({ auths: { [registry.address]: { auth: Buffer.from(`${USER}:${REGISTRY_PASSWORD}`).toString("base64") } } }), { mode: 0o600 });
    fs.writeFileSync(CURL_AUTH, `user = "${USER}:${REGISTRY_PASSWORD}"\n`, { mode: 0o600 });
    registry.start();
    project.initFor(registry, {
        "layerstack:layers": LAYERS,
        "layerstack:registryUsername": USER,
        "layerstack:keepImages": "1",
        "layerstack:promoteTags": "true",
    }, {
        "layerstack:registryPassword": REGISTRY_PASSWORD,
        "layerstack:signingKey": privateKey,
        "layerstack:signingKeyPassword": KEY_PASSWORD,
    });
    // A PEM starts with "-", which `pulumi config set` takes for a flag: written into the stack's
    // file as a YAML (JSON) string, as `pulumi config set layerstack:signingPublicKey -- "$(cat cosign.pub)"` would.
    const file = path.join(project.dir, `Pulumi.${STACK}.yaml`);
    const pub = fs.readFileSync(path.join(keyDir, "cosign.pub"), "utf8");
    fs.writeFileSync(file, fs.readFileSync(file, "utf8").replace(/^config:\n/m, `config:\n  layerstack:signingPublicKey: ${JSON.stringify(pub)}\n`));
});
afterAll(() => {
    registry.dispose();
    project.dispose();
    fs.rmSync(keyDir, { recursive: true, force: true });
    fs.rmSync(authDir, { recursive: true, force: true });
});

test("the key pair is real: the private key is cosign's encrypted PEM, and the secret config holds it as ciphertext only", () => {
    expect(privateKey).toContain("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----");
    expect(keyNeedles.length).toBeGreaterThan(2);
    const file = fs.readFileSync(path.join(project.dir, `Pulumi.${STACK}.yaml`), "utf8");
    expect(file).toMatch(/layerstack:signingKey:\n\s+secure: v1:\S+/);
    for (const n of [KEY_PASSWORD, ...keyNeedles]) expect(file).not.toContain(n);
});

test("up signs every layer: cosign verify --key, verify-attestation --type cyclonedx and --type slsaprovenance1 pass for each", async () => {
    const run = await sampledUp("first up");
    expect({ code: run.code, tail: run.code === 0 ? "" : (run.stdout + run.stderr).slice(-3000) }).toEqual({ code: 0, tail: "" });
    const layers = out().layers;
    expect(Object.keys(layers).sort()).toEqual([...IDS].sort());
    for (const id of IDS) {
        const l = layers[id];
        const r = cosign(verifyArgs("verify", l.imageRef));
        expect({ id, status: r.status, err: r.status === 0 ? "" : r.stderr }).toEqual({ id, status: 0, err: "" });
        // Signed by digest: the signature names exactly the pushed manifest.
        const signed = JSON.parse(r.stdout).map((s: any) => s.critical.image["docker-manifest-digest"]);
        expect(signed).toEqual([l.digest]);
        // Under cosign's tag scheme, next to the image: GHCR has no referrers API.
        const tags = registry.tags(`${REPO_PATH}/${id}`);
        expect(tags).toEqual(expect.arrayContaining([`${l.digest.replace(":", "-")}.sig`, `${l.digest.replace(":", "-")}.att`]));
        predicate(l.imageRef, "cyclonedx");
        predicate(l.imageRef, "slsaprovenance1");
    }
    // The moving tags were promoted after the signatures: they exist and point at the signed digests.
    for (const id of IDS) expect(out().latestTags[id].digest).toBe(layers[id].digest);
});

test("each layer's SBOM names exactly the store paths of its own blob (unpacked here), with NAR hashes and derivations", () => {
    const layers = out().layers;
    let withPaths = 0;
    for (const id of IDS) {
        const sbom = predicate(layers[id].imageRef, "cyclonedx");
        expect(sbom.bomFormat).toBe("CycloneDX");
        const fromBlob = blobStorePaths(layers[id].imageRef);
        expect({ id, paths: sbomStorePaths(JSON.stringify(sbom)) }).toEqual({ id, paths: fromBlob });
        if (fromBlob.length) withPaths++;
        for (const c of sbom.components ?? []) {
            const prop = (n: string) => c.properties.find((p: any) => p.name === n)?.value;
            const storePath = prop("nix:store_path");
            // The NAR hash as Nix knows it, and the same as the component's SHA-256.
            const info = JSON.parse(execFileSync("nix", ["--extra-experimental-features", "nix-command", "path-info", "--json", storePath], { encoding: "utf8" }));
            const narHash = (Array.isArray(info) ? info[0] : info[storePath]).narHash;
            expect(prop("nix:nar_hash")).toBe(narHash);
            expect(c.hashes[0].content).toBe(Buffer.from(narHash.replace(/^sha256-/, ""), "base64").toString("hex"));
            expect(prop("nix:deriver")).toMatch(/^\/nix\/store\/[0-9a-z]{32}-.+\.drv$/);
            expect(c.name).toBe(path.basename(storePath).slice(33).replace(/-[^a-zA-Z].*$/, ""));
        }
    }
    // nobin's blob carries busybox in a store path of its own: the comparison above is not vacuous.
    expect(withPaths).toBeGreaterThanOrEqual(1);
});

test("each layer's provenance records the locked flake, the attribute, the drvPath, the builder, the parent's digest and the stack", () => {
    const layers = out().layers;
    const meta = JSON.parse(execFileSync("nix", ["--extra-experimental-features", "nix-command flakes", "flake", "metadata", "--json", `path:${project.flakeDir}`], { encoding: "utf8", env: { ...process.env, NIX_CONFIG: "warn-dirty = false" } }));
    for (const id of IDS) {
        const p = predicate(layers[id].imageRef, "slsaprovenance1");
        const ext = p.buildDefinition.externalParameters;
        expect(ext.flake).toBe(`path:${project.flakeDir}`);
        expect(ext.attribute).toBe(`packages.x86_64-linux.${layers[id].attr}`);
        expect(ext.stack).toBe(`layerstack/${STACK}`);
        expect(p.buildDefinition.internalParameters.drvPath).toBe(layers[id].drvPath);
        expect(p.buildDefinition.internalParameters.lockedFlake).toBe(meta.url ?? meta.lockedUrl);
        expect(p.buildDefinition.resolvedDependencies[0].digest.narHash).toBe(meta.locked.narHash);
        expect(p.runDetails.builder.id).toBe(`nix-local:${os.hostname()}`);
        const parent = LAYERS.find((l) => l.id === id)!.parent;
        expect(ext.parentImage).toBe(parent ? layers[parent].imageRef : undefined);
    }
});

test("npm run verify passes and prints a table of every layer", () => {
    const r = verify();
    expect({ code: r.code, err: r.code === 0 ? "" : r.stderr + r.stdout }).toEqual({ code: 0, err: "" });
    for (const id of IDS) expect(r.stdout).toMatch(new RegExp(`^${id}\\s+sha256:\\S+\\s+ok\\s+ok\\s+ok$`, "m"));
});

test("a second up with no changes signs nothing", () => {
    const r = project.pulumi(["preview", "--expect-no-changes", "--diff"]);
    expect({ code: r.code, out: r.code === 0 ? "" : r.stdout.slice(-3000) }).toEqual({ code: 0, out: "" });
    must(project.up(["--expect-no-changes"]), "up --expect-no-changes");
});

test("a signature deleted from the registry is restored by the next up", () => {
    const l = out().layers["layer02-python-tools"];
    const sigTag = `${l.digest.replace(":", "-")}.sig`;
    deleteTag(`${REPO_PATH}/layer02-python-tools`, sigTag);
    expect(registry.tags(`${REPO_PATH}/layer02-python-tools`)).not.toContain(sigTag);
    expect(cosign(verifyArgs("verify", l.imageRef)).status).not.toBe(0);
    const preview = must(project.pulumi(["preview", "--diff"]), "preview");
    expect(preview.stdout).toMatch(/layer02-python-tools-sign/);
    must(project.up(), "up");
    expect(registry.tags(`${REPO_PATH}/layer02-python-tools`)).toContain(sigTag);
    expect(cosign(verifyArgs("verify", l.imageRef)).status).toBe(0);
    // Only that layer was signed again.
    must(project.up(["--expect-no-changes"]), "up --expect-no-changes after the restore");
});

test("a failed signature (a wrong key password) stops the moving tag, names the layer, and echoes no secret", async () => {
    const before = out();
    // A new key password is a new key to sign with: every layer's sign step runs again, and fails.
    must(project.pulumi(["config", "set", "--secret", "layerstack:signingKeyPassword"], { input: WRONG_KEY_PASSWORD }), "config set --secret (wrong)");
    project.editFixtureLayer("nobin", { content: `no /bin, change ${crypto.randomBytes(4).toString("hex")}` });
    try {
        const run = await sampledUp("failing up");
        expect(run.code).not.toBe(0);
        const text = run.stdout + run.stderr;
        expect(text).toMatch(/layer (layer01-base-cuda|layer02-python-tools|nobin): cosign could not sign 127\.0\.0\.1:\d+\/layerstack\/megapak\/\S+@sha256:[0-9a-f]{64}:/);
        expect(text).toContain("decryption failed");
        // No moving tag moved: nobin's new digest was pushed, but its moving tag still points at the signed one.
        expect(text).not.toMatch(/-promote (created|updated)/);
        const latest = JSON.parse(execFileSync("skopeo", ["inspect", "--tls-verify=false", "--authfile", AUTH_FILE, `docker://${registry.address}/${REPO_PATH}/nobin:${STACK}-latest`], { encoding: "utf8" }));
        expect(latest.Digest).toBe(before.latestTags.nobin.digest);
    } finally {
        must(project.pulumi(["config", "set", "--secret", "layerstack:signingKeyPassword"], { input: KEY_PASSWORD }), "config set --secret");
    }
    const fixed = await sampledUp("fixed up");
    expect({ code: fixed.code, tail: fixed.code === 0 ? "" : (fixed.stdout + fixed.stderr).slice(-3000) }).toEqual({ code: 0, tail: "" });
    expect(out().layers.nobin.digest).not.toBe(before.layers.nobin.digest);
    expect(out().latestTags.nobin.digest).toBe(out().layers.nobin.digest);
    expect(cosign(verifyArgs("verify", out().layers.nobin.imageRef)).status).toBe(0);
});

test("with keepImages 1, after three one-layer changes each layer has exactly the signature and attestations of its kept digest", () => {
    for (let i = 1; i <= 3; i++) {
        project.editFixtureLayer("layer02-python-tools", { content: `Python 3.14, signed change ${i}` });
        must(project.up(), `up ${i}`);
    }
    const layers = out().layers;
    for (const id of IDS) {
        const d = layers[id].digest.replace(":", "-");
        expect({ id, tags: registry.tags(`${REPO_PATH}/${id}`).sort() }).toEqual({ id, tags: [`${d}.att`, `${d}.sig`, layers[id].tag, `${STACK}-latest`].sort() });
        expect(cosign(verifyArgs("verify", layers[id].imageRef)).status).toBe(0);
    }
});

test("an unsigned manifest pushed over a layer's tag fails npm run verify, naming the layer", () => {
    const layers = out().layers;
    const victim = layers["layer02-python-tools"];
    // Another manifest over its tag: the root layer's image, signed in its own repository only, so
    // in this one no signature names its digest (cosign looks for <repository>:sha256-<hex>.sig).
    const creds = ["--src-authfile", AUTH_FILE, "--dest-authfile", AUTH_FILE, "--src-tls-verify=false", "--dest-tls-verify=false"];
    execFileSync("skopeo", ["copy", "--quiet", ...creds, `docker://${layers["layer01-base-cuda"].imageRef}`, `docker://${victim.repository}:${victim.tag}`], { stdio: "pipe" });
    const now = JSON.parse(execFileSync("skopeo", ["inspect", "--tls-verify=false", "--authfile", AUTH_FILE, `docker://${victim.repository}:${victim.tag}`], { encoding: "utf8" })).Digest;
    expect(now).not.toBe(victim.digest);
    expect(cosign(verifyArgs("verify", `${victim.repository}@${now}`)).status).not.toBe(0);
    const r = verify();
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("verify: layer layer02-python-tools does not verify");
    // The table shows the layers checked before it as verified, and stops there.
    expect(r.stdout).toMatch(/^layer01-base-cuda\s+sha256:\S+\s+ok\s+ok\s+ok$/m);
    expect(r.stdout).toMatch(/^layer02-python-tools\s+sha256:\S+\s+FAILED/m);
    expect(r.stdout).not.toMatch(/^nobin/m);
});

test("no secret (key password, private key, registry password) is in any output, event log, state file, temporary file or argv", () => {
    expect(runs.map((r) => r.name)).toEqual(["first up", "failing up", "fixed up"]);
    const all = [KEY_PASSWORD, WRONG_KEY_PASSWORD, REGISTRY_PASSWORD].flatMap(forms).concat(keyNeedles);
    for (const { name, run, eventLog, sampler } of runs) {
        const text = run.stdout + run.stderr;
        const log = fs.readFileSync(eventLog, "utf8");
        expect(log.split("\n").filter(Boolean).length).toBeGreaterThan(10);
        for (const s of all) {
            expect({ name, where: "stdout/stderr", leaked: text.includes(s) }).toEqual({ name, where: "stdout/stderr", leaked: false });
            expect({ name, where: "event log", leaked: log.includes(s) }).toEqual({ name, where: "event log", leaked: false });
        }
        // The sampler ran while cosign did, and saw no secret in any argv.
        expect(sampler.samples).toBeGreaterThan(20);
        expect({ name, hits: sampler.hits }).toEqual({ name, hits: [] });
    }
    expect(runs[0].sampler.seen).toContain("cosign");
    for (const s of all) {
        expect({ s: s.slice(0, 12), files: project.filesContaining(s) }).toEqual({ s: s.slice(0, 12), files: [] });
        expect({ s: s.slice(0, 12), files: project.filesContaining(s, TMPDIR) }).toEqual({ s: s.slice(0, 12), files: [] });
    }
    const argv = project.argv();
    for (const s of all) expect(argv.filter((a) => a.some((x) => x.includes(s)))).toEqual([]);
    // The state does hold the key and its password, encrypted.
    const exported = must(project.pulumi(["stack", "export", "--show-secrets"]), "export --show-secrets").stdout;
    expect(exported).toContain(KEY_PASSWORD);
    expect(fs.readdirSync(TMPDIR).filter((n) => n.startsWith("tmp."))).toEqual([]);
});
