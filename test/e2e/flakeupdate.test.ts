// The weekly flake update (.github/workflows/flake-update.yml, scripts/flake-update.ts): its
// workflow passes actionlint, and its steps, run against a local git repository whose flake has
// an input that moved, open one pull request on the GitHub stand-in whose body names the layers
// the update rebuilds and why, and update that same pull request on the next run.
import { execFileSync, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { GithubStandin } from "../support/githubStandin";
import { REPO, TestProject, TestRegistry, must } from "../support/stack";

const TOKEN = "ghp_flake-update-sentinel-2718";
const registry = new TestRegistry(5983);
const github = new GithubStandin(5984, { tokens: [TOKEN], repo: "owner/megapak" });
const project = new TestProject("flakeupdate");
const work = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-flake-update-"));
const versions = path.join(work, "versions"), flake = path.join(work, "flake"), origin = path.join(work, "origin.git");
const LAYERS = [
    { id: "layer01-base-cuda", attr: "layer01-base-cuda" },
    { id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", attr: "layer03-gcc15", parent: "layer02-python-tools" },
];

const git = (cwd: string, ...args: string[]) => execFileSync("git", ["-c", "user.name=t", "-c", "user.email=t@t", "-c", "init.defaultBranch=main", ...args], { cwd, encoding: "utf8" });

/** The input the update moves: a flake of its own in a git repository, naming the Python version. */
function setVersion(v: string): void {
    fs.writeFileSync(path.join(versions, "flake.nix"), `{ outputs = _: { python = "${v}"; }; }\n`);
    git(versions, "add", "flake.nix");
    git(versions, "commit", "-qm", `python ${v}`);
}

function runUpdate() {
    return spawnSync("node", ["-r", "ts-node/register", path.join(project.dir, "scripts/flake-update.ts")], {
        cwd: project.dir, encoding: "utf8",
        env: {
            ...project.env, ...project.nixEnv, TS_NODE_TRANSPILE_ONLY: "true", FLAKE_DIR: flake, STACK: project.stack,
            GITHUB_REPOSITORY: "owner/megapak", GITHUB_TOKEN: TOKEN, GITHUB_API_URL: github.url, BASE_BRANCH: "main",
        },
    });
}

const pulls = () => JSON.parse(execFileSync("curl", ["-s", "-f", `${github.url}/_standin/pulls`], { encoding: "utf8" }));

beforeAll(() => {
    registry.start();
    github.start();
    fs.mkdirSync(versions);
    git(versions, "init", "-q");
    setVersion("3.14.0");
    // The flake's repository: the dev fixture, its Python version taken from the input.
    execFileSync("cp", ["-rL", path.join(REPO, "fixtures/megapak"), flake]);
    const nix = path.join(flake, "flake.nix");
    fs.writeFileSync(nix, fs.readFileSync(nix, "utf8")
        .replace("outputs = { self }:", `inputs.versions.url = "git+file://${versions}";\n  outputs = { self, versions }:`)
        .replace("spec = builtins.fromJSON (builtins.readFile ./layers.json);", "spec = builtins.fromJSON (builtins.readFile ./layers.json) // { inherit (versions) python; };"));
    must(project.nix(["nix", "--extra-experimental-features", "nix-command flakes", "flake", "lock", flake]), "nix flake lock");
    git(flake, "init", "-q");
    git(flake, "add", ".");
    git(flake, "commit", "-qm", "the flake");
    execFileSync("git", ["init", "-q", "--bare", origin]);
    git(flake, "remote", "add", "origin", origin);
    git(flake, "push", "-q", "origin", "HEAD:refs/heads/main");
    project.initFor(registry, { "layerstack:runChecks": "false", "layerstack:layers": LAYERS, "layerstack:flake": `path:${flake}` });
    execFileSync("cp", ["-r", path.join(REPO, "scripts"), path.join(project.dir, "scripts")]);
    must(project.up(), "up of the published flake");
});
afterAll(() => {
    registry.dispose();
    github.dispose();
    project.dispose();
    fs.rmSync(work, { recursive: true, force: true });
});

test("actionlint finds nothing in the update workflow", () => {
    const r = spawnSync("actionlint", ["-config-file", path.join(REPO, ".github/actionlint.yaml"), path.join(REPO, ".github/workflows/flake-update.yml")], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
});

test("with nothing to update: no branch, no pull request", () => {
    const r = runUpdate();
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("flake-update: flake.lock is up to date; no pull request\n");
    expect(pulls()).toEqual([]);
});

test("a moved input: one pull request whose body names the rebuilt layers and why, and the unchanged base; the next run updates it", () => {
    setVersion("3.14.1");
    let r = runUpdate();
    if (r.status !== 0) throw new Error(`flake-update failed:\n${r.stdout}\n${r.stderr}`);
    expect(r.stdout).toBe("flake-update: pull request #1 opened: 2 of 3 layers change\n");
    let prs = pulls();
    expect(prs).toHaveLength(1);
    expect(prs[0]).toMatchObject({ number: 1, state: "open", head: { ref: "layerstack/flake-update" }, base: { ref: "main" } });
    expect(prs[0].title).toBe(`flake.lock: weekly update (2 of 3 layers rebuilt on ${project.stack})`);
    const body: string = prs[0].body;
    expect(body).toContain("- layer02-python-tools: 1 package changed: python3 3.14.0 -> 3.14.1");
    expect(body).toContain("- layer03-gcc15: parent changed: layer02-python-tools: 1 package changed: python3 3.14.0 -> 3.14.1");
    expect(body).toMatch(/\n\| layer01-base-cuda \| - \| unchanged \| 0 \| 0 \| - \|\n/);
    expect(body).toContain("Unchanged (nothing to rebuild): layer01-base-cuda.");
    // The branch on the remote holds the updated lock, naming the input's new revision.
    const lock = JSON.parse(execFileSync("git", ["--git-dir", origin, "show", "layerstack/flake-update:flake.lock"], { encoding: "utf8" }));
    expect(lock.nodes.versions.locked.rev).toBe(git(versions, "rev-parse", "HEAD").trim());
    // The stack's own config file is untouched (the preview used a copy).
    expect(fs.readFileSync(path.join(project.dir, `Pulumi.${project.stack}.yaml`), "utf8")).toContain(`path:${flake}`);
    // The token went only into the API's Authorization header: the stand-in saw it, and no output holds it.
    expect(github.apiRequests().filter((q) => q.path === "/repos/owner/megapak/pulls").every((q) => q.status < 400 && q.auth)).toBe(true);
    expect(r.stdout + r.stderr).not.toContain(TOKEN);

    // A week later, another move: the same pull request, updated.
    setVersion("3.14.2");
    r = runUpdate();
    if (r.status !== 0) throw new Error(`flake-update failed:\n${r.stdout}\n${r.stderr}`);
    expect(r.stdout).toBe("flake-update: pull request #1 updated: 2 of 3 layers change\n");
    prs = pulls();
    expect(prs).toHaveLength(1);
    expect(prs[0].body).toContain("- layer02-python-tools: 1 package changed: python3 3.14.0 -> 3.14.2");
});
