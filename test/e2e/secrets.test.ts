// Secrets on the real engine: a password-protected registry (htpasswd) and a unique sentinel
// password set with `pulumi config set --secret` on stdin. After one passing up and one
// deliberately failing up (a wrong password, also a sentinel), neither password is in the
// backend directory, the event log, stdout/stderr, the shims' argv log, or any process's
// argv sampled from /proc every 50 ms while the engine runs.
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { ArgvSampler } from "../support/argv";
import { Run, TestProject, TestRegistry, must } from "../support/stack";

const SENTINEL = `sentinel-${crypto.randomBytes(12).toString("hex")}`;
const WRONG = `wrongpass-${crypto.randomBytes(12).toString("hex")}`;
const USER = "layerstack-ci";
const REPO_PATH = "layerstack/megapak";
const registry = new TestRegistry(5301, { htpasswd: path.join(fs.mkdtempSync("/tmp/layerstack-htpasswd-"), "htpasswd") });
const project = new TestProject("secrets", { shims: true });
// `--event-log` exists only with PULUMI_DEBUG_COMMANDS set (pkg/cmd/pulumi/operations/up.go).
project.env.PULUMI_DEBUG_COMMANDS = "true";
// The commands make their private directories (the registry auth file's) here, so a test can see what is left.
const TMPDIR = path.join(project.dir, "tmp");
fs.mkdirSync(TMPDIR);
project.env.TMPDIR = TMPDIR;
const forms = (s: string) => [s, Buffer.from(s).toString("base64"), Buffer.from(s).toString("hex")];

/** Runs pulumi asynchronously with the sampler on, so /proc is read while the engine works. */
async function sampled(args: string[], sampler: ArgvSampler): Promise<Run> {
    sampler.start();
    try {
        return await project.pulumiAsync(args).done;
    } finally {
        sampler.stop();
    }
}

const runs: { name: string; run: Run; eventLog: string; sampler: ArgvSampler }[] = [];

beforeAll(() => {
    // -i: the password on stdin, not in htpasswd's argv.
    fs.writeFileSync(registry["auth"]!, execFileSync("htpasswd", ["-iBn", USER], { input: SENTINEL, encoding: "utf8" }));
    registry.start();
    project.initFor(registry, {
        "layerstack:registryUsername": USER,
    }, { "layerstack:registryPassword": SENTINEL });
});
afterAll(() => {
    registry.dispose();
    fs.rmSync(path.dirname(registry["auth"]!), { recursive: true, force: true });
    project.dispose();
});

test("the registry refuses anonymous pushes and pulls", () => {
    const code = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", `http://${registry.address}/v2/_catalog`], { encoding: "utf8" });
    expect(code).toBe("401");
});

test("the secret config holds the sentinel, as ciphertext only", () => {
    const file = fs.readFileSync(path.join(project.dir, "Pulumi.secrets.yaml"), "utf8");
    expect(file).toMatch(/layerstack:registryPassword:\n\s+secure: v1:\S+/);
    for (const f of forms(SENTINEL)) expect(file).not.toContain(f);
    // ...and it decrypts to the sentinel, so the scans below look for a value that is really there.
    expect(must(project.pulumi(["config", "get", "layerstack:registryPassword"]), "config get").stdout.trim()).toBe(SENTINEL);
});

test("a passing up publishes every layer through the password-protected registry", async () => {
    const eventLog = path.join(project.dir, "events-pass.jsonl");
    const sampler = new ArgvSampler({ sentinel: SENTINEL, "wrong password": WRONG }, 50);
    const run = await sampled(["up", "--yes", "--skip-preview", "--event-log", eventLog], sampler);
    runs.push({ name: "passing up", run, eventLog, sampler });
    expect(run.code).toBe(0);
    const layers = project.outputs().layers;
    expect(Object.keys(layers)).toHaveLength(12);
    // Auth worked: every layer's immutable tag is in the registry's storage.
    for (const [id, l] of Object.entries<any>(layers)) expect(registry.tags(`${REPO_PATH}/${id}`)).toEqual([l.tag]);
    // The registry saw authenticated pushes (no anonymous one succeeded: the 401 test above).
    expect(registry.manifestPuts().length).toBeGreaterThanOrEqual(12);
});

test("a failing up (a wrong registry password, after a layer change) fails at the registry read-back, naming the registry, and pushes nothing", async () => {
    must(project.pulumi(["config", "set", "--secret", "layerstack:registryPassword"], { input: WRONG }), "config set --secret (wrong)");
    project.editFixtureLayer("layer11-app", { content: `app scripts, changed ${crypto.randomBytes(4).toString("hex")}` });
    const eventLog = path.join(project.dir, "events-fail.jsonl");
    const sampler = new ArgvSampler({ sentinel: SENTINEL, "wrong password": WRONG }, 50);
    const pushesBefore = registry.manifestPuts().length;
    const run = await sampled(["up", "--yes", "--skip-preview", "--event-log", eventLog], sampler);
    runs.push({ name: "failing up", run, eventLog, sampler });
    expect(run.code).not.toBe(0);
    const out = run.stdout + run.stderr;
    // Every layer's published tag is read back with the stack's credentials before any push
    // (components/registryImage.ts): the registry refuses the wrong password, and the run fails there.
    expect(out).toMatch(/layer[0-9a-z-]+-in-registry \*\*failed\*\*/);
    expect(out).toMatch(new RegExp(`registry ${registry.address.replace(/\./g, "\\.")} refused the stack's credentials for ${REPO_PATH}/layer[0-9a-z-]+ \\(HTTP 401\\)`));
    expect(out).not.toMatch(/-push \*\*(creating|updating) failed\*\*/);
    expect(registry.manifestPuts().length).toBe(pushesBefore);
    // Put the right password back for the rest of the file.
    must(project.pulumi(["config", "set", "--secret", "layerstack:registryPassword"], { input: SENTINEL }), "config set --secret");
});

test("neither password is in stdout or stderr of either run", () => {
    expect(runs.map((r) => r.name)).toEqual(["passing up", "failing up"]);
    for (const { name, run } of runs) {
        for (const s of [...forms(SENTINEL), ...forms(WRONG)]) {
            expect({ name, leaked: (run.stdout + run.stderr).includes(s) }).toEqual({ name, leaked: false });
        }
    }
});

test("no command left its private directory behind: no auth file survives either run", () => {
    expect(fs.readdirSync(TMPDIR).filter((n) => n.startsWith("tmp."))).toEqual([]);
    for (const s of [...forms(SENTINEL), ...forms(WRONG)]) expect(project.filesContaining(s, TMPDIR)).toEqual([]);
});

test("neither password is in the event logs", () => {
    for (const { eventLog } of runs) {
        const text = fs.readFileSync(eventLog, "utf8");
        expect(text.split("\n").filter(Boolean).length).toBeGreaterThan(10); // it is a real log
        for (const s of [...forms(SENTINEL), ...forms(WRONG)]) expect(text).not.toContain(s);
    }
});

test("neither password is in any file of the backend directory (state, backups, history), though the state holds it encrypted", () => {
    const files = project.filesUnder();
    expect(files.some((f) => f.includes(`${path.sep}history${path.sep}`))).toBe(true);
    expect(files.some((f) => f.includes(`${path.sep}backups${path.sep}`))).toBe(true);
    for (const s of [...forms(SENTINEL), ...forms(WRONG)]) expect(project.filesContaining(s)).toEqual([]);
    // The state does carry the password (as ciphertext): decrypted export shows it.
    expect(must(project.pulumi(["stack", "export", "--show-secrets"]), "export --show-secrets").stdout).toContain(SENTINEL);
});

test("neither password is in the argv of nix, nix-store, skopeo or cachix (shims), or of any process (/proc sampler)", () => {
    const argv = project.argv();
    expect(argv.filter((a) => a[0] === "skopeo").length).toBeGreaterThanOrEqual(12);
    for (const s of [SENTINEL, WRONG]) expect(argv.filter((a) => a.some((x) => x.includes(s)))).toEqual([]);
    for (const { name, sampler } of runs) {
        // The sampler really ran, and saw the engine and its children.
        expect(sampler.samples).toBeGreaterThan(20);
        expect(sampler.seen).toContain("pulumi");
        expect([...sampler.seen].some((p) => /^pulumi-resource-command/.test(p))).toBe(true);
        expect({ name, hits: sampler.hits }).toEqual({ name, hits: [] });
    }
});
