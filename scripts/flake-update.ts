// The weekly flake update (.github/workflows/flake-update.yml, "Dependabot for Nix"): updates
// the flake's lock, previews the stack against it, and opens one pull request, or updates the
// open one, whose body is the preview's table: which layers the update rebuilds, and why.
//
//   TS_NODE_TRANSPILE_ONLY=true node -r ts-node/register scripts/flake-update.ts
//
// Environment:
//   FLAKE_DIR          the flake's directory, in a git checkout of its repository (with a remote `origin`)
//   STACK              the stack to preview (its last update is what the table compares with)
//   GITHUB_REPOSITORY  owner/name of the flake's repository, where the pull request goes
//   GITHUB_TOKEN       a token that may open pull requests there (secret: it goes only into the
//                      API requests' Authorization header, never into argv or output)
//   GITHUB_API_URL     @default https://api.github.com (GitHub Actions sets it)
//   BASE_BRANCH        @default main;  UPDATE_BRANCH  @default layerstack/flake-update
//   PULUMI             the Pulumi CLI @default pulumi
// Prints what it did; exits non-zero on any failure (a preview that fails, an API error).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PreviewReport, renderMarkdown } from "../lib/previewReport";
import { REPORT_FILE_ENV } from "../lib/changeReport";

function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): string {
    const r = spawnSync(cmd, args, { cwd: opts.cwd, env: opts.env ?? process.env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`${cmd} ${args.slice(0, 2).join(" ")} failed (${r.status}):\n${(r.stderr || r.stdout).trim().split("\n").slice(-20).join("\n")}`);
    return r.stdout;
}

function need(name: string): string {
    const v = process.env[name];
    if (!v) throw new Error(`flake-update: ${name} is not set`);
    return v;
}

/**
 * 1. `nix flake update` in the flake's directory: every input to its newest revision, the
 * lock rewritten (NixOS/nix src/nix/flake.cc CmdFlakeUpdate: with no input named it updates
 * them all, in 2.18 as in 2.26). Returns whether flake.lock changed.
 */
export function updateLock(flakeDir: string): boolean {
    run("nix", ["--extra-experimental-features", "nix-command flakes", "flake", "update"], { cwd: flakeDir });
    return run("git", ["status", "--porcelain", "--", "flake.lock"], { cwd: flakeDir }).trim() !== "";
}

/** 2. The update as one commit on the update branch, pushed (forced: the branch is this script's own). */
export function pushBranch(flakeDir: string, branch: string): void {
    run("git", ["checkout", "-B", branch], { cwd: flakeDir });
    run("git", ["add", "flake.lock"], { cwd: flakeDir });
    run("git", ["-c", "user.name=layerstack", "-c", "user.email=layerstack@users.noreply.github.com", "commit", "-m", "flake.lock: update every input"], { cwd: flakeDir });
    run("git", ["push", "--force", "origin", `HEAD:refs/heads/${branch}`], { cwd: flakeDir });
}

/**
 * 3. The stack's preview against the updated flake: the stack's own config, with
 * `layerstack:flake` pointed at the updated checkout, in a copy (`--config-file`), so the stack's
 * file is untouched. Returns the table the program wrote ($LAYERSTACK_PREVIEW_REPORT).
 */
export function previewUpdate(flakeDir: string, stack: string, pulumi = process.env.PULUMI ?? "pulumi"): PreviewReport {
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-flake-update-"));
    try {
        const config = path.join(tmp, `Pulumi.${stack.split("/").pop()}.yaml`);
        const own = path.join(process.cwd(), `Pulumi.${stack.split("/").pop()}.yaml`);
        fs.writeFileSync(config, fs.existsSync(own) ? fs.readFileSync(own) : "config: {}\n");
        run(pulumi, ["config", "set", "layerstack:flake", `path:${path.resolve(flakeDir)}`, "--stack", stack, "--config-file", config]);
        const report = path.join(tmp, "report.json");
        run(pulumi, ["preview", "--stack", stack, "--config-file", config, "--non-interactive"], { env: { ...process.env, [REPORT_FILE_ENV]: report } });
        return JSON.parse(fs.readFileSync(report, "utf8")) as PreviewReport;
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

/** The pull request's body: the table, and what did not change. */
export function pullRequestBody(stack: string, report: PreviewReport): string {
    const unchanged = report.rows.filter((r) => r.change === "unchanged").map((r) => r.id);
    return [
        `\`nix flake update\`, previewed on stack \`${stack}\`.`, "",
        renderMarkdown(report, `What the update rebuilds on ${stack}`),
        unchanged.length ? `Unchanged (nothing to rebuild): ${unchanged.join(", ")}.` : "Every layer is rebuilt.", "",
    ].join("\n");
}

/** 4. Opens the pull request, or updates the open one of the branch (docs.github.com/en/rest/pulls/pulls). */
export async function upsertPullRequest(o: { api: string; repository: string; token: string; head: string; base: string; title: string; body: string }): Promise<{ number: number; created: boolean }> {
    const headers = { Authorization: `Bearer ${o.token}`, Accept: "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28", "Content-Type": "application/json" };
    const owner = o.repository.split("/")[0];
    const call = async (method: string, url: string, body?: unknown) => {
        const r = await fetch(`${o.api}/repos/${o.repository}${url}`, { method, headers, ...(body ? { body: JSON.stringify(body) } : {}) });
        const text = await r.text();
        if (!r.ok) throw new Error(`GitHub API ${method} /repos/${o.repository}${url}: ${r.status} ${text.slice(0, 300)}`);
        return JSON.parse(text);
    };
    const open = (await call("GET", `/pulls?state=open&head=${encodeURIComponent(`${owner}:${o.head}`)}`)) as { number: number }[];
    if (open.length) {
        await call("PATCH", `/pulls/${open[0].number}`, { title: o.title, body: o.body });
        return { number: open[0].number, created: false };
    }
    const pr = (await call("POST", "/pulls", { title: o.title, head: o.head, base: o.base, body: o.body })) as { number: number };
    return { number: pr.number, created: true };
}

async function main(): Promise<void> {
    const flakeDir = need("FLAKE_DIR"), stack = need("STACK");
    const branch = process.env.UPDATE_BRANCH || "layerstack/flake-update";
    if (!updateLock(flakeDir)) {
        console.log("flake-update: flake.lock is up to date; no pull request");
        return;
    }
    pushBranch(flakeDir, branch);
    const report = previewUpdate(flakeDir, stack);
    const pr = await upsertPullRequest({
        api: process.env.GITHUB_API_URL || "https://api.github.com", repository: need("GITHUB_REPOSITORY"), token: need("GITHUB_TOKEN"),
        head: branch, base: process.env.BASE_BRANCH || "main", title: `flake.lock: weekly update (${report.changed} of ${report.rows.length} layers rebuilt on ${stack})`,
        body: pullRequestBody(stack, report),
    });
    console.log(`flake-update: pull request #${pr.number} ${pr.created ? "opened" : "updated"}: ${report.changed} of ${report.rows.length} layers change`);
}

if (require.main === module) {
    main().catch((e) => {
        console.error((e as Error).message);
        process.exit(1);
    });
}
