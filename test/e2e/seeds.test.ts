// The seeds' flake layout as the user's repository has it (retif/ComfyUI-Docker f3ae734,
// cu130-megapak-pt210-py314-nix/): the top flake lives in a subdirectory of its repository
// and takes one sub-flake per layer as a relative path input; each layer's flake takes its
// parent's as a relative path input and builds `fromImage` its parent's image. Published as
// `path:<repository>?dir=<subdirectory>`, which only a current Nix reads (2.8: "unsupported
// parameter 'dir'"; its lock's `parent` fields need 2.26). Fixture: fixtures/seeds-layout.
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO, TestProject, TestRegistry, inspect, must } from "../support/stack";

const registry = new TestRegistry(5961);
const project = new TestProject("seeds");
const repo = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-seeds-repo-"));
const SUBDIR = "cu130-megapak-nix";
const LAYERS = [
    { id: "layer01-base-cuda", attr: "layer01-base-cuda" },
    { id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", attr: "layer03-gcc15", parent: "layer02-python-tools" },
    { id: "layer04-pytorch", attr: "layer04-pytorch", parent: "layer03-gcc15" },
];
let layers: Record<string, any>;

beforeAll(() => {
    registry.start();
    // The repository as a clone has it (lib/assemble.sh is a link to the megapak fixture's).
    fs.cpSync(path.join(REPO, "fixtures/seeds-layout"), repo, { recursive: true, dereference: true });
    project.initFor(registry, {
        "layerstack:flake": `path:${repo}?dir=${SUBDIR}`,
        "layerstack:layers": LAYERS,
        "layerstack:runChecks": "false",
    });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
    fs.rmSync(repo, { recursive: true, force: true });
});

test("up publishes every sub-flake's image, each its parent's layers plus one", () => {
    must(project.up(), "up");
    layers = project.outputs().layers;
    expect(Object.keys(layers).sort()).toEqual(LAYERS.map((l) => l.id).sort());
    let parent: string[] = [];
    for (const l of LAYERS) {
        const info = inspect(layers[l.id].imageRef);
        expect(info.Layers).toHaveLength(parent.length + 1);
        expect(info.Layers.slice(0, parent.length)).toEqual(parent);
        parent = info.Layers;
    }
    must(project.up(["--expect-no-changes"]), "second up --expect-no-changes");
});

test("a change in one sub-flake previews exactly that layer and its descendants", () => {
    const flake = path.join(repo, SUBDIR, "layers/02-python-tools/flake.nix");
    fs.writeFileSync(flake, fs.readFileSync(flake, "utf8").replace("pip setuptools wheel packaging", "pip setuptools wheel packaging build"));
    const r = must(project.pulumi(["preview", "--json"]), "preview --json");
    const changed = (JSON.parse(r.stdout).steps as { op: string; urn: string }[])
        .filter((s) => s.op !== "same" && s.op !== "create-replacement" && s.op !== "delete-replaced").map((s) => `${s.op} ${s.urn.split("::").pop()}`);
    const beneath = ["layer02-python-tools", "layer03-gcc15", "layer04-pytorch"];
    expect(changed.sort()).toEqual(beneath.flatMap((id) => [`replace ${id}-build`, `replace ${id}-push`, `replace ${id}-in-registry`]).sort());
    // The sub-flakes' lock, with its relative inputs, is the one the repository holds.
    expect(JSON.parse(fs.readFileSync(path.join(repo, SUBDIR, "flake.lock"), "utf8")).nodes.layer02.parent).toEqual([]);
});
