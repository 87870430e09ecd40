// The registry is the truth: on the real engine and registry, a layer whose published image
// is gone (one manifest deleted, then the whole registry wiped) shows in `pulumi preview` as
// its push being replaced, `up` publishes it again, every exported imageRef resolves, and
// the next `up --expect-no-changes` passes. A registry that cannot be reached fails the check.
import { execFileSync } from "child_process";
import * as fs from "fs";
import { TestProject, TestRegistry, inspect, must } from "../support/stack";

const registry = new TestRegistry(5800);
const project = new TestProject("drift", { shims: true });
const LAYERS = [
    { id: "layer01-base-cuda" },
    { id: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", parent: "layer02-python-tools", format: "docker-archive" },
];
const IDS = LAYERS.map((l) => l.id);
const repoPath = (id: string) => `layerstack/megapak/${id}`;

beforeAll(() => {
    registry.start();
    project.initFor(registry, { "layerstack:layers": LAYERS });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

/** The preview's changed steps, `<op> <resource name>`, without the replacement's own create/delete halves. */
function previewChanges(): { changes: string[]; steps: any[] } {
    const r = must(project.pulumi(["preview", "--json"]), "preview --json");
    const steps: any[] = JSON.parse(r.stdout).steps;
    const changes = steps.filter((s) => s.op !== "same" && s.op !== "create-replacement" && s.op !== "delete-replaced")
        .map((s) => `${s.op} ${s.urn.split("::").pop()}`);
    return { changes, steps };
}
const pushes = (changes: string[]) => changes.filter((c) => c.endsWith("-push")).sort();

/** Every exported imageRef resolves to its digest in the registry. */
function expectAllResolve(): Record<string, any> {
    const layers = project.outputs().layers;
    expect(Object.keys(layers).sort()).toEqual([...IDS].sort());
    for (const l of Object.values<any>(layers)) expect(inspect(l.imageRef).Digest).toBe(l.digest);
    return layers;
}

/** `DELETE /v2/<name>/manifests/<digest>`, as a registry's retention policy or a person would. */
function deleteManifest(id: string, digest: string): void {
    const code = execFileSync("curl", ["-s", "-o", "/dev/null", "-w", "%{http_code}", "-X", "DELETE",
        `http://${registry.address}/v2/${repoPath(id)}/manifests/${digest}`], { encoding: "utf8" });
    expect(code).toBe("202");
}

let first: Record<string, any>;

test("after an up, every check finds its image: preview and up expect no changes", () => {
    const up = must(project.up(), "pulumi up");
    // No noise: no GC-root warning from any realisation, no "Undefined value" output.
    expect(up.stdout + up.stderr).not.toContain("you did not specify '--add-root'");
    expect(up.stdout + up.stderr).not.toContain("Undefined value");
    first = expectAllResolve();
    must(project.pulumi(["preview", "--expect-no-changes"]), "preview --expect-no-changes");
    const before = project.argvCount();
    must(project.up(["--expect-no-changes"]), "up --expect-no-changes");
    expect(project.argv(before).filter((a) => a[0] === "skopeo")).toEqual([]);
    // One RegistryImage per layer, its id a trigger of the push.
    const res = project.resources();
    for (const id of IDS) {
        const check = res.find((r) => r.urn.endsWith(`::${id}-in-registry`));
        expect(check.type).toBe("pulumi-nodejs:dynamic/layerstack:RegistryImage");
        expect(check.outputs.inRegistry).toBe(true);
        const push = res.find((r) => r.urn.endsWith(`::${id}-push`));
        expect(push.inputs.triggers).toEqual([first[id].drvPath, `${registry.address}/${repoPath(id)}`, first[id].tag, check.id]);
    }
});

test("one layer's manifest deleted: preview shows exactly its push replaced, with the reason; up republishes it", () => {
    const gone = "layer02-python-tools";
    deleteManifest(gone, first[gone].digest);
    expect(registry.tags(repoPath(gone))).toEqual([]);

    const { changes, steps } = previewChanges();
    expect(pushes(changes)).toEqual([`replace ${gone}-push`]);
    const check = steps.find((s) => s.urn.endsWith(`::${gone}-in-registry`) && s.op === "replace");
    expect(check.replaceReasons).toEqual(["inRegistry"]);
    // Nothing else of the stack is rebuilt: no build changes.
    expect(changes.filter((c) => c.endsWith("-build"))).toEqual([]);

    const before = project.argvCount();
    const logFrom = registry.accessLogLines();
    must(project.up(), "pulumi up after the delete");
    // Only that layer was copied again, and only its manifest written.
    const copied = project.argv(before).filter((a) => a[0] === "skopeo" && a[1] === "copy" && a[a.length - 1].startsWith("docker://"));
    expect(copied.map((a) => a[a.length - 1])).toEqual([`docker://${registry.address}/${repoPath(gone)}:${first[gone].tag}`]);
    expect(registry.manifestPuts(logFrom)).toEqual([`${repoPath(gone)}:${first[gone].tag}`]);
    expect(expectAllResolve()).toEqual(first);
    must(project.up(["--expect-no-changes"]), "up --expect-no-changes after republishing");
});

test("the whole registry wiped: refresh reports the drift, preview shows every push replaced, up republishes all", () => {
    registry.stop();
    fs.rmSync(registry.dataDir(), { recursive: true, force: true });
    registry.start();

    const refresh = project.pulumi(["refresh", "--yes", "--skip-preview", "--expect-no-changes"]);
    expect(refresh.code).not.toBe(0);
    for (const id of IDS) {
        expect(project.resources().find((r) => r.urn.endsWith(`::${id}-in-registry`)).outputs.inRegistry).toBe(false);
    }

    const { changes } = previewChanges();
    expect(pushes(changes)).toEqual(IDS.map((id) => `replace ${id}-push`).sort());
    expect(changes.filter((c) => c.endsWith("-build"))).toEqual([]);

    must(project.up(), "pulumi up after the wipe");
    expect(registry.repositories()).toEqual(IDS.map(repoPath).sort());
    expect(expectAllResolve()).toEqual(first);
    must(project.up(["--expect-no-changes"]), "up --expect-no-changes after the wipe");
});

test("a registry that cannot be reached fails the check, naming the registry; it never counts as present", () => {
    registry.stop();
    try {
        const r = project.pulumi(["preview"]);
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(`registry ${registry.address} cannot be reached: ECONNREFUSED`);
    } finally {
        registry.start();
    }
    must(project.pulumi(["preview", "--expect-no-changes"]), "preview with the registry back");
});
