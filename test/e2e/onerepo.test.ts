// Issue 20: the one-repository layout (`layerstack:repositoryLayout: single`). The dev stack's 12
// catalog layers publish into one repository, each tag ending in its layer id; retention
// (keepImages: 1) retires only a changed layer's old tag, never another layer's; a layer whose
// image is deleted from the registry is published again (drift). Real engine, Nix, registry.
import { execFileSync } from "child_process";
import { TestProject, TestRegistry, inspect, must } from "../support/stack";
import { megapakLayers } from "../../layers/megapak";

const registry = new TestRegistry(5703);
const project = new TestProject("onerepo", { shims: true });
const REPO = "layerstack/megapak";
const IDS = megapakLayers().map((l) => l.id);
const CHANGED = "layer11-app";
const immutableOf = (id: string) => new RegExp(`^onerepo-[0-9a-z]{32}-${id.replace(/[.]/g, "\\.")}$`);
const tagsOf = (id: string) => registry.tags(REPO).filter((t) => immutableOf(id).test(t));

function upAsPush(extra: string[] = []) {
    project.env.GITHUB_EVENT_NAME = "push";
    try {
        return must(project.up(extra), "pulumi up");
    } finally {
        delete project.env.GITHUB_EVENT_NAME;
    }
}

beforeAll(() => {
    registry.start();
    project.initFor(registry, {
        "layerstack:repositoryLayout": "single", "layerstack:keepImages": "1", "layerstack:promoteTags": "true",
        // The dev stack's own checks pass in this layout too, but they cost a pull each: off here (checks.test.ts runs them).
        "layerstack:runChecks": "false",
    });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

let first: Record<string, any>;

test("every layer goes to the one repository, its id ending its tags; the second up changes nothing", () => {
    upAsPush();
    first = project.outputs().layers;
    expect(Object.keys(first).sort()).toEqual([...IDS].sort());
    // One repository in the registry: the stack's.
    expect(registry.repositories()).toEqual([REPO]);
    const latest = project.outputs().latestTags;
    for (const [id, l] of Object.entries<any>(first)) {
        expect(l.repository).toBe(`${registry.address}/${REPO}`);
        expect(l.tag).toMatch(immutableOf(id));
        expect(l.imageRef).toBe(`${registry.address}/${REPO}@${l.digest}`);
        expect(inspect(`${registry.address}/${REPO}:${l.tag}`).Digest).toBe(l.digest);
        expect(latest[id].ref).toBe(`${registry.address}/${REPO}:onerepo-latest-${id}`);
        expect(inspect(latest[id].ref).Digest).toBe(l.digest);
        // Each image is its parent's layers plus one, as in the per-layer layout.
        if (l.parent) expect(inspect(l.imageRef).Layers.slice(0, -1)).toEqual(inspect(first[l.parent].imageRef).Layers);
        expect(tagsOf(id)).toEqual([l.tag]);
    }
    const before = project.argvCount();
    upAsPush(["--expect-no-changes"]);
    expect(project.argv(before).filter((a) => a[0] === "skopeo" || a[0] === "nix-store")).toEqual([]);
});

test("retention retires the changed layers' old tags and leaves every other layer's alone", () => {
    project.editFixtureLayer(CHANGED, { content: "builder and runner scripts, changed" });
    upAsPush();
    const after = project.outputs().layers;
    const rebuilt = ["layer11-app", "layer12-comfyui"];
    for (const id of IDS) {
        // keepImages: 1: exactly the current tag of each layer, in the one repository.
        expect(tagsOf(id)).toEqual([after[id].tag]);
        if (rebuilt.includes(id)) expect(after[id].tag).not.toBe(first[id].tag);
        else expect(after[id]).toEqual(first[id]);
        expect(inspect(after[id].imageRef).Digest).toBe(after[id].digest);
    }
    const res = project.resources();
    expect(res.find((r) => r.urn.endsWith(`::${CHANGED}-retention`)).outputs.retired).toEqual([first[CHANGED].tag]);
    expect(res.find((r) => r.urn.endsWith("::layer10-performance-retention")).outputs.retired).toEqual([]);
    first = after;
});

test("a layer whose image is deleted from the repository is published again, and only it", () => {
    const id = "layer03-gcc15";
    const code = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
        `http://${registry.address}/v2/${REPO}/manifests/${first[id].digest}`], { encoding: "utf8" });
    expect(code).toBe("202");
    expect(tagsOf(id)).toEqual([]);
    const preview = must(project.pulumi(["preview", "--json"]), "preview --json");
    const pushes = JSON.parse(preview.stdout).steps
        .filter((s: any) => s.op === "replace" && s.urn.endsWith("-push")).map((s: any) => s.urn.split("::").pop());
    expect(pushes).toEqual([`${id}-push`]);
    upAsPush();
    const after = project.outputs().layers;
    expect(after[id].digest).toBe(first[id].digest);
    expect(tagsOf(id)).toEqual([first[id].tag]);
    for (const l of Object.values<any>(after)) expect(inspect(l.imageRef).Digest).toBe(l.digest);
    upAsPush(["--expect-no-changes"]);
});
