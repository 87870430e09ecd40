// Renames and parents on the real engine: a renamed layer keeps its checks (asserted in a
// preview), a rename that would drop checks fails before anything runs, and a parent set in
// config only (the flake unchanged) fails at the push, naming both layers.
import * as fs from "fs";
import * as path from "path";
import { TestProject, TestRegistry, must } from "../support/stack";
import { scriptStub } from "../../lib/commands";

const registry = new TestRegistry(5803);
const project = new TestProject("layers", { shims: true });
const BASE = { id: "layer01-base-cuda" };
const OTHER = { id: "other", attr: "other-root" };

/** Adds a layer to the test's own copy of the fixture flake (a second root, unrelated to the megapak's). */
function addFixtureLayer(spec: Record<string, unknown>): void {
    const file = path.join(project.flakeDir, "layers.json");
    const json = JSON.parse(fs.readFileSync(file, "utf8"));
    json.layers.push(spec);
    fs.writeFileSync(file, JSON.stringify(json, null, 2));
}

beforeAll(() => {
    addFixtureLayer({ attr: "other-root", parent: null, format: "oci", content: "a root of another image tree" });
    registry.start();
    project.initFor(registry, { "layerstack:layers": [BASE, { id: "layer02-python-tools", parent: "layer01-base-cuda" }, OTHER] });
    must(project.up(), "pulumi up");
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

test("a renamed layer keeps its checks: the preview moves them to the new name", () => {
    project.setConfig("layerstack:layers", [BASE, { id: "python", attr: "layer02-python-tools", parent: "layer01-base-cuda" }, OTHER]);
    const r = must(project.pulumi(["preview", "--json"]), "preview --json");
    const steps: { op: string; urn: string }[] = JSON.parse(r.stdout).steps;
    const ops = (suffix: string) => steps.filter((s) => s.urn.endsWith(`::${suffix}`)).map((s) => s.op);
    expect(ops("python-check-python-version")).toEqual(["create"]);
    expect(ops("layer02-python-tools-check-python-version")).toEqual(["delete"]);
    must(project.up(), "pulumi up with the renamed layer");
    const names = project.resources().map((x) => x.urn.split("::").pop());
    expect(names).toContain("python-check-python-version");
    expect(names).not.toContain("layer02-python-tools-check-python-version");
});

test("a rename that would drop checks fails before anything runs, and says so", () => {
    const layers = [{ id: "layer01-base-cuda", attr: "other-root" }];
    project.setConfig("layerstack:layers", layers);
    try {
        const before = project.argvCount();
        const r = project.pulumi(["preview"]);
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain('layerstack:layers: layer "layer01-base-cuda" has the id of a catalog layer with checks (nvcc-version), but the flake attribute "other-root": checks follow the attribute, so these would be dropped.');
        expect(project.argv(before).filter((a) => a[0] === "nix-store" || a[0] === "skopeo")).toEqual([]);
    } finally {
        project.setConfig("layerstack:layers", [BASE, { id: "python", attr: "layer02-python-tools", parent: "layer01-base-cuda" }, OTHER]);
    }
});

test("a parent set in config only fails at the push, naming both layers, with the step and its last lines", () => {
    const outputsBefore = project.outputs().layers;
    project.setConfig("layerstack:layers", [BASE, { id: "python", attr: "layer02-python-tools", parent: "other" }, OTHER]);
    const r = project.up();
    expect(r.code).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toMatch(/python-push \*\*updating failed\*\*/);
    expect(out).toContain("layer python: its image does not build on its parent, layer other: the parent's layers are not the first layers of");
    // The failure shows the step's one-line stub, not the push script.
    // The official provider's error repeats the command text (Go's %q): the one-line stub.
    expect(out).toContain(`running ${JSON.stringify(scriptStub("python-push"))}:`);
    expect(out).not.toContain("skopeo copy --quiet");
    // Nothing recorded: the outputs still say what the registry holds.
    expect(project.outputs().layers.python).toEqual(outputsBefore.python);
    expect(outputsBefore.python.parent).toBe("layer01-base-cuda");
});
