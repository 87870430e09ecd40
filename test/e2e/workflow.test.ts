// The CI workflow passes actionlint (built by scripts/toolchain.sh from the Go module proxy).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO } from "../support/stack";

const WORKFLOW = path.join(REPO, ".github/workflows/layerstack.yml");

test("actionlint finds nothing in the workflow", () => {
    const r = spawnSync("actionlint", ["-config-file", path.join(REPO, ".github/actionlint.yaml"), WORKFLOW], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
});

test("actionlint does fail on a broken workflow (so the test above can fail)", () => {
    const broken = path.join(fs.mkdtempSync("/tmp/layerstack-wf-"), "broken.yml");
    fs.writeFileSync(broken, fs.readFileSync(WORKFLOW, "utf8").replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-24.04\n    if: ${{ secrets.PULUMI_CONFIG_PASSPHRASE != '' }}"));
    const r = spawnSync("actionlint", ["-config-file", path.join(REPO, ".github/actionlint.yaml"), broken], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
});

test("the job summary's graph runs as the workflow runs it (scripts/graph.js loads TypeScript: ts-node)", () => {
    const text = fs.readFileSync(WORKFLOW, "utf8");
    // Every use goes through a graph() helper, defined the same way in each step that draws.
    const uses = text.split("\n").filter((l) => l.includes("scripts/graph.js"));
    expect(uses.length).toBeGreaterThanOrEqual(2);
    for (const def of new Set(uses.map((l) => l.trim()))) {
        expect(def).toMatch(/^graph\(\) \{ .* scripts\/graph\.js "\$@"; \}$/);
        const layers = JSON.stringify({ a: { digest: "sha256:" + "a".repeat(64), ownBlobSize: 10 }, b: { parent: "a", digest: "sha256:" + "b".repeat(64), ownBlobSize: 20 } });
        const forecast = JSON.stringify({ a: { status: "unchanged", build: [], fetch: [], downloadSize: 0, narSize: 0 }, b: { status: "build", build: ["/nix/store/x.drv"], fetch: [], downloadSize: 0, narSize: 0 } });
        const dir = fs.mkdtempSync("/tmp/layerstack-wf-graph-");
        fs.writeFileSync(path.join(dir, "layers.json"), layers);
        fs.writeFileSync(path.join(dir, "forecast.json"), forecast);
        const r = spawnSync("bash", ["-c", `${def}\ngraph --outputs "$1/layers.json" --forecast "$1/forecast.json"`, "graph", dir], { cwd: REPO, encoding: "utf8" });
        fs.rmSync(dir, { recursive: true, force: true });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        expect(r.stdout.split("\n").filter((l) => l.includes(":::"))).toEqual([
            '  a["a<br/>published<br/>unchanged: nothing to build or fetch<br/>sha256:aaaaaaaaaaaa<br/>10 B own blob"]:::unchanged',
            '  b["b<br/>published<br/>build: 1 derivation to build<br/>sha256:bbbbbbbbbbbb<br/>20 B own blob"]:::build',
        ]);
    }
});

test("secrets reach steps only through env, never in an if:", () => {
    const text = fs.readFileSync(WORKFLOW, "utf8");
    const ifs = text.split("\n").filter((l) => /^\s*if:/.test(l));
    expect(ifs.length).toBeGreaterThan(0);
    for (const l of ifs) expect(l).not.toContain("secrets.");
});

describe("production jobs never use the offline dev toolchain", () => {
    const text = fs.readFileSync(WORKFLOW, "utf8");
    // Imported here so the file's other tests need no YAML parser.
    const { productionViolations } = require("../support/workflow") as typeof import("../support/workflow");

    test("the workflow as committed: no finding", () => {
        expect(productionViolations(text)).toEqual([]);
    });

    test.each([
        ["sourcing scripts/env.sh", "run: npm ci", "run: npm ci && source scripts/env.sh", "sources scripts/env.sh"],
        ["running scripts/toolchain.sh", "run: npm ci", "run: bash scripts/toolchain.sh && npm ci", "runs scripts/toolchain.sh"],
        ["turning plugin downloads off", "PULUMI_PARALLEL: \"64\"", "PULUMI_PARALLEL: \"64\"\n      PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION: \"true\"", "sets PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION"],
        ["the dev stack's offline NIX_CONFIG", "PULUMI_PARALLEL: \"64\"", "PULUMI_PARALLEL: \"64\"\n      NIX_CONFIG: |\n        substituters =\n        sandbox = false", "NIX_CONFIG carries the dev stack's offline Nix settings"],
        ["Debian's Nix", "run: npm ci", "run: sudo apt-get install -y nix-bin && npm ci", "installs Debian's nix-bin"],
        ["a CLI built from Go", "run: npm ci", "run: go build -o pulumi github.com/pulumi/pulumi/pkg/v3/cmd/pulumi && npm ci", "builds from Go"],
    ])("a copy with %s is caught", (_what, from, to, finding) => {
        expect(text).toContain(from);
        const broken = text.replace(from, to);
        expect(productionViolations(broken).join("\n")).toContain(finding);
    });

    test("a pull request without secrets (a fork) skips its preview instead of failing", () => {
        const { parse } = require("yaml") as typeof import("yaml");
        const preview = parse(text).jobs.preview;
        const gate = preview.steps.find((s: any) => s.id === "backend");
        expect(gate.run).toContain("ready=false");
        expect(gate.run).toContain("::notice");
        const after = preview.steps.slice(preview.steps.indexOf(gate) + 1);
        const runsPulumiOrNix = after.filter((s: any) => /pulumi|npm|nix|cachix/.test(`${s.uses ?? ""} ${s.run ?? ""}`));
        expect(runsPulumiOrNix.length).toBeGreaterThanOrEqual(5);
        for (const s of runsPulumiOrNix) expect(s.if).toContain("steps.backend.outputs.ready == 'true'");
    });
});

test("the up job's up skips its own preview (the pull request's preview job showed the change), as pulumi/actions' up does", () => {
    const { parse } = require("yaml") as typeof import("yaml");
    const step = parse(fs.readFileSync(WORKFLOW, "utf8")).jobs.up.steps.find((s: any) => s.name === "Up");
    const ups = (step.run as string).split("\n").filter((l) => /^\s*(PULUMI_DEBUG_COMMANDS=true )?pulumi up /.test(l));
    expect(ups).toHaveLength(1);
    expect(ups[0]).toMatch(/ pulumi up --yes --skip-preview --stack "\$STACK" --non-interactive --continue-on-error /);
});

describe("the up's job summary after a failed first up", () => {
    const { parse } = require("yaml") as typeof import("yaml");
    const up = parse(fs.readFileSync(WORKFLOW, "utf8")).jobs.up;
    const step = up.steps.find((s: any) => s.name === "Up");

    /**
     * Runs the Up step as GitHub runs a `run:` step (`bash --noprofile --norc -eo pipefail`), with a
     * `pulumi` whose up fails with status 7 before writing any event, and a stack without outputs.
     */
    function failedFirstUp(opts: { events?: string } = {}) {
        const dir = fs.mkdtempSync("/tmp/layerstack-wf-up-");
        const bin = path.join(dir, "bin");
        fs.mkdirSync(bin);
        fs.writeFileSync(path.join(bin, "pulumi"), `#!/bin/sh
case "$1" in
  up) ${opts.events !== undefined ? `printf '%s\\n' '${opts.events}' > events.jsonl; ` : ""}echo "error: the first up failed" >&2; exit 7 ;;
  config) echo '{}' ;;
  stack) echo "error: current stack does not have output property '$4'" >&2; exit 255 ;;
  *) exit 99 ;;
esac
`, { mode: 0o755 });
        const work = path.join(dir, "work");
        fs.mkdirSync(work);
        const summary = path.join(dir, "summary.md");
        fs.writeFileSync(path.join(dir, "step.sh"), step.run);
        const r = spawnSync("bash", ["--noprofile", "--norc", "-eo", "pipefail", path.join(dir, "step.sh")], {
            cwd: work, encoding: "utf8",
            env: { PATH: `${bin}:${process.env.PATH}`, STACK: "cu130", GITHUB_STEP_SUMMARY: summary },
        });
        const text = fs.existsSync(summary) ? fs.readFileSync(summary, "utf8") : "";
        fs.rmSync(dir, { recursive: true, force: true });
        return { status: r.status, stderr: r.stderr, summary: text };
    }

    test("no events.jsonl and no layers output: the step fails with the up's status, and the summary says why", () => {
        const r = failedFirstUp();
        expect(r.stderr).toContain("error: the first up failed");
        expect(r.status).toBe(7);
        expect(r.summary).toBe([
            "## Layers of cu130",
            "pulumi up ended with status 7 before any layer's result was recorded: see the log of this step.",
            "The stack has no `layers` output yet (its first up has not finished).",
            "",
        ].join("\n"));
    });

    test("an empty events.jsonl is treated the same", () => {
        const r = failedFirstUp({ events: "" });
        expect(r.status).toBe(7);
        expect(r.summary).toContain("pulumi up ended with status 7 before any layer's result was recorded");
    });
});
