// Failures stay local, on the real engine: a broken layer in one branch of the tree lets the
// other branch publish (`--continue-on-error`, as the wrapper and CI run up), and the run ends
// with a table (scripts/run-table.ts) of the layers published, failed (step, last lines) and skipped.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { shortSize } from "../../lib/previewReport";
import { REPO, TestProject, TestRegistry, must } from "../support/stack";

const registry = new TestRegistry(5804);
const project = new TestProject("branches", { shims: true });
// Two trees: the megapak's chain (layer03 broken) and another root with a child.
const LAYERS = [
    { id: "layer01-base-cuda" },
    { id: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", parent: "layer02-python-tools", format: "docker-archive" },
    { id: "layer04-pytorch", parent: "layer03-gcc15" },
    { id: "slim", attr: "slim-root" },
    { id: "slim-app", attr: "slim-app", parent: "slim" },
];

beforeAll(() => {
    const file = path.join(project.flakeDir, "layers.json");
    const json = JSON.parse(fs.readFileSync(file, "utf8"));
    json.layers.push({ attr: "slim-root", parent: null, format: "oci", content: "a slim base" });
    json.layers.push({ attr: "slim-app", parent: "slim-root", format: "oci", content: "an app on the slim base" });
    fs.writeFileSync(file, JSON.stringify(json, null, 2));
    registry.start();
    project.initFor(registry, { "layerstack:layers": LAYERS });
    project.editFixtureLayer("layer03-gcc15", { broken: true });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

function table(events: string, markdown = false): string {
    const cfg = path.join(project.dir, "config.json");
    fs.writeFileSync(cfg, must(project.pulumi(["config", "--json"]), "config --json").stdout);
    return execFileSync("node", ["-r", "ts-node/register", path.join(REPO, "scripts/run-table.ts"), "--events", events, "--config", cfg, ...(markdown ? ["--markdown"] : [])], {
        cwd: REPO, env: { ...project.env, TS_NODE_TRANSPILE_ONLY: "true" }, encoding: "utf8",
    });
}

test("a broken layer in one branch: the other branch and the layers above it publish; the table says which", () => {
    const r = project.pulumi(["up", "--yes", "--skip-preview", "--continue-on-error", "--json"]);
    expect(r.code).not.toBe(0);
    const events = path.join(project.dir, "events.jsonl");
    fs.writeFileSync(events, r.stdout);

    const text = table(events);
    const rows = text.trimEnd().split("\n");
    expect(rows[0]).toMatch(/^layer\s+status\s+step\s+detail$/);
    const row = (id: string) => rows.find((l) => l.startsWith(`${id} `))!.replace(/\s+/g, " ").trim();
    // A published layer's row says what its push uploaded (scripts/run-table.ts pushedBytes): here every blob is new.
    const uploaded = /^uploaded [\d.]+ (B|KiB|MiB)$/;
    const published = (id: string) => { const m = new RegExp(`^${id} published (.*)$`).exec(row(id)); expect(m?.[1]).toMatch(uploaded); };
    published("layer01-base-cuda");
    published("layer02-python-tools");
    expect(row("layer03-gcc15")).toMatch(/^layer03-gcc15 failed build error: builder for '\/nix\/store\/[0-9a-z]{32}-layer03-gcc15-pkg\.drv' failed with exit code 1;$/);
    expect(text).toContain("> fixture layer layer03-gcc15 is marked broken");
    expect(row("layer04-pytorch")).toBe("layer04-pytorch skipped build its ancestor layer03-gcc15 failed");
    published("slim");
    published("slim-app");
    expect(rows[rows.length - 1]).toBe("4 published, 0 unchanged, 1 failed, 1 skipped");
    // Checked after the table, whose rows say why a layer was not published (step and last lines).
    expect(registry.repositories()).toEqual(["layer01-base-cuda", "layer02-python-tools", "slim", "slim-app"].map((id) => `layerstack/megapak/${id}`));
    // The failure names the step's stub, never the script.
    expect(text).not.toContain("LAYERSTACK_SCRIPT");
    expect(text).not.toContain("nix-store --realise");

    const md = table(events, true);
    expect(md).toContain("| layer04-pytorch | skipped | build | its ancestor layer03-gcc15 failed |");
});

test("once fixed, the next up publishes the rest; the table shows the others unchanged", () => {
    project.editFixtureLayer("layer03-gcc15", { broken: false });
    const r = must(project.pulumi(["up", "--yes", "--skip-preview", "--continue-on-error", "--json"]), "up after the fix");
    const events = path.join(project.dir, "events-fixed.jsonl");
    fs.writeFileSync(events, r.stdout);
    const rows = table(events).trimEnd().split("\n").map((l) => l.replace(/\s+/g, " ").trim());
    // What each push uploaded: its new own blob, its config and its manifest, as the stack's outputs give their sizes.
    const out = project.outputs().layers;
    const up = (id: string) => `uploaded ${shortSize(out[id].ownBlobSize + out[id].configSize + out[id].manifestSize)}`;
    expect(rows.slice(1)).toEqual([
        "layer01-base-cuda unchanged", "layer02-python-tools unchanged", `layer03-gcc15 published ${up("layer03-gcc15")}`, `layer04-pytorch published ${up("layer04-pytorch")}`,
        "slim unchanged", "slim-app unchanged", "2 published, 4 unchanged, 0 failed, 0 skipped",
    ]);
});
