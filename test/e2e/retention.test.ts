// Retention on the real engine and registry: with layerstack:keepImages: 1, after three one-layer
// changes the registry holds exactly one immutable tag per layer and every stack output
// resolves; a digest the moving tag still points at is never deleted. With
// deleteImagesOnDestroy, destroy (and a renamed layer) deletes the stack's own images, and only
// those; without it, destroy deletes none.
import { TestProject, TestRegistry, inspect, must } from "../support/stack";

const LAYERS = [
    { id: "layer01-base-cuda" },
    { id: "layer02-python-tools", parent: "layer01-base-cuda" },
];
const IDS = LAYERS.map((l) => l.id);
const repoPath = (id: string) => `layerstack/megapak/${id}`;
/** The stack's immutable tags in a repository (the variant is the stack name). */
const immutable = (registry: TestRegistry, stack: string, id: string) => registry.tags(repoPath(id)).filter((t) => new RegExp(`^${stack}-[0-9a-z]{32}$`).test(t));

function upAs(project: TestProject, eventName: string, extra: string[] = []) {
    project.env.GITHUB_EVENT_NAME = eventName;
    try {
        return must(project.up(extra), `pulumi up (GITHUB_EVENT_NAME=${eventName})`);
    } finally {
        delete project.env.GITHUB_EVENT_NAME;
    }
}

describe("keepImages: 1", () => {
    const registry = new TestRegistry(5801);
    const project = new TestProject("retain", { shims: true });
    beforeAll(() => {
        registry.start();
        project.initFor(registry, { "layerstack:layers": LAYERS, "layerstack:keepImages": "1", "layerstack:promoteTags": "true" });
    });
    afterAll(() => { registry.dispose(); project.dispose(); });

    test("after three one-layer changes, one immutable tag per layer, and every output resolves", () => {
        upAs(project, "push");
        const seen = new Set<string>();
        for (let i = 1; i <= 3; i++) {
            project.editFixtureLayer("layer02-python-tools", { content: `Python 3.14, change ${i}` });
            upAs(project, "push");
            const out = project.outputs();
            seen.add(out.layers["layer02-python-tools"].tag);
            for (const id of IDS) {
                expect(immutable(registry, "retain", id)).toEqual([out.layers[id].tag]);
                expect(inspect(out.layers[id].imageRef).Digest).toBe(out.layers[id].digest);
                expect(inspect(out.latestTags[id].ref).Digest).toBe(out.latestTags[id].digest);
            }
        }
        expect(seen.size).toBe(3);
        // The state records what each run retired, and the history it keeps.
        const res = project.resources().find((r) => r.urn.endsWith("::layer02-python-tools-retention"));
        expect(res.type).toBe("pulumi-nodejs:dynamic/layerstack:ImageRetention");
        expect(res.outputs.history).toEqual([project.outputs().layers["layer02-python-tools"].tag]);
        expect(res.outputs.retired).toHaveLength(1);
        must(project.up(["--expect-no-changes"]), "up --expect-no-changes");
    });

    test("a digest the moving tag still points at is kept, until the moving tag moves on", () => {
        const before = project.outputs();
        const latest = before.latestTags["layer02-python-tools"];
        // A pull request publishes a change but promotes nothing: latest stays on the old digest.
        project.editFixtureLayer("layer02-python-tools", { content: "Python 3.14, changed in a pull request" });
        upAs(project, "pull_request");
        const pr = project.outputs().layers["layer02-python-tools"];
        expect(pr.digest).not.toBe(latest.digest);
        expect(inspect(latest.ref).Digest).toBe(latest.digest);
        // keepImages would retire the old tag, but its digest is the moving tag's: both stay.
        expect(immutable(registry, "retain", "layer02-python-tools").sort()).toEqual([before.layers["layer02-python-tools"].tag, pr.tag].sort());
        // Back on main the moving tag moves, and the old immutable tag goes.
        upAs(project, "push");
        const after = project.outputs();
        expect(after.latestTags["layer02-python-tools"].digest).toBe(pr.digest);
        expect(immutable(registry, "retain", "layer02-python-tools")).toEqual([pr.tag]);
        expect(inspect(after.latestTags["layer02-python-tools"].ref).Digest).toBe(pr.digest);
    });
});

describe("destroy", () => {
    const registry = new TestRegistry(5802);
    const keeper = new TestProject("keeper");
    const cleaner = new TestProject("cleaner");
    beforeAll(() => {
        registry.start();
        keeper.initFor(registry, { "layerstack:layers": LAYERS });
        // Its own content, so its images are not the other stack's (a digest shared with another
        // stack's tag is never deleted).
        for (const id of IDS) keeper.editFixtureLayer(id, { content: `${id} of the keeper stack` });
        cleaner.initFor(registry, { "layerstack:layers": LAYERS, "layerstack:deleteImagesOnDestroy": "true", "layerstack:promoteTags": "true" });
    });
    afterAll(() => { registry.dispose(); keeper.dispose(); cleaner.dispose(); });

    test("by default deletes no image", () => {
        must(keeper.up(), "keeper: up");
        const out = keeper.outputs().layers;
        must(keeper.pulumi(["destroy", "--yes", "--skip-preview"]), "keeper: destroy");
        for (const id of IDS) {
            expect(immutable(registry, "keeper", id)).toEqual([out[id].tag]);
            expect(inspect(out[id].imageRef).Digest).toBe(out[id].digest);
        }
    });

    test("with deleteImagesOnDestroy, a renamed layer's old repository and then destroy delete the stack's own images, and only those", () => {
        upAs(cleaner, "push");
        expect(immutable(registry, "cleaner", "layer02-python-tools")).toHaveLength(1);
        expect(registry.tags(repoPath("layer02-python-tools"))).toContain("cleaner-latest");
        // Rename layer02 (same attribute): its images move to the new repository, the old one is emptied.
        cleaner.setConfig("layerstack:layers", [LAYERS[0], { id: "python", attr: "layer02-python-tools", parent: "layer01-base-cuda" }]);
        upAs(cleaner, "push");
        expect(registry.tags(repoPath("layer02-python-tools")).filter((t) => t.startsWith("cleaner-"))).toEqual([]);
        expect(immutable(registry, "cleaner", "python")).toHaveLength(1);

        must(cleaner.pulumi(["destroy", "--yes", "--skip-preview"]), "cleaner: destroy");
        for (const id of ["layer01-base-cuda", "python"]) expect(registry.tags(repoPath(id)).filter((t) => t.startsWith("cleaner-"))).toEqual([]);
        // The other stack's images are untouched.
        for (const id of IDS) expect(immutable(registry, "keeper", id)).toHaveLength(1);
    });
});
