// Moving tags on the real engine and a real registry: with layerstack:promoteTags,
// `<repo>:<variant>-latest` follows each layer's pushed digest, after its push and checks;
// for a pull request (GITHUB_EVENT_NAME=pull_request) no moving tag is created or moved.
import { execFileSync } from "child_process";
import { TestProject, TestRegistry, inspect, must } from "../support/stack";

const registry = new TestRegistry(5402);
const project = new TestProject("promo", { shims: true });
const LAYERS = [
    { id: "layer01-base-cuda", attr: "layer01-base-cuda" },
    { id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda" },
];
const LATEST = "dev-latest";
const repo = (id: string) => `${registry.address}/layerstack/megapak/${id}`;

function repoTags(id: string): string[] {
    try {
        const out = execFileSync("skopeo", ["list-tags", "--tls-verify=false", `docker://${repo(id)}`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        return JSON.parse(out).Tags;
    } catch {
        return []; // the repository does not exist
    }
}
const latestDigest = (id: string) => inspect(`${repo(id)}:${LATEST}`).Digest as string;

function upAs(eventName: string) {
    project.env.GITHUB_EVENT_NAME = eventName;
    try {
        return must(project.up(), `pulumi up (GITHUB_EVENT_NAME=${eventName})`);
    } finally {
        delete project.env.GITHUB_EVENT_NAME;
    }
}

beforeAll(() => {
    registry.start();
    project.initFor(registry, {
        "layerstack:layers": LAYERS,
        "layerstack:variant": "dev",
        "layerstack:promoteTags": "true",
    });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

test("for a pull request, the layers are published but no latest tag is created, and the log says why", () => {
    const r = upAs("pull_request");
    expect(r.stdout + r.stderr).toContain(`moving tags: GITHUB_EVENT_NAME=pull_request: this is a pull request, so no ${LATEST} tag is promoted`);
    const layers = project.outputs().layers;
    for (const id of Object.keys(layers)) {
        expect(repoTags(id)).toEqual([layers[id].tag]);
    }
    expect(project.resources().filter((x) => x.urn.endsWith("-promote"))).toEqual([]);
});

test("otherwise, <variant>-latest resolves to each layer's pushed digest, promoted after its push and checks", () => {
    upAs("push");
    const out = project.outputs();
    const res = project.resources();
    const urnOf = (name: string) => res.find((x) => x.urn.endsWith(`::${name}`))!.urn;
    for (const [id, l] of Object.entries<any>(out.layers)) {
        expect(repoTags(id).sort()).toEqual([LATEST, l.tag].sort());
        expect(latestDigest(id)).toBe(l.digest);
        expect(inspect(`${repo(id)}:${LATEST}`, true)).toEqual(inspect(l.imageRef, true));
        expect(out.latestTags[id]).toEqual({ ref: `${repo(id)}:${LATEST}`, digest: l.digest });
        const promote = res.find((x) => x.urn.endsWith(`::${id}-promote`));
        expect(promote.dependencies).toContain(urnOf(`${id}-push`));
        for (const check of res.filter((x) => x.urn.includes(`::${id}-check-`) && x.type === "command:local:Command")) {
            expect(promote.dependencies).toContain(check.urn);
        }
    }
});

test("after a layer changes, its latest tag moves with it; a pull request's change moves none", () => {
    const before = project.outputs().layers;
    project.editFixtureLayer("layer02-python-tools", { content: "Python 3.14 with one more tool" });
    upAs("push");
    const moved = project.outputs().layers;
    expect(moved["layer02-python-tools"].digest).not.toBe(before["layer02-python-tools"].digest);
    expect(latestDigest("layer02-python-tools")).toBe(moved["layer02-python-tools"].digest);
    expect(latestDigest("layer01-base-cuda")).toBe(before["layer01-base-cuda"].digest);

    project.editFixtureLayer("layer02-python-tools", { content: "Python 3.14, changed in a pull request" });
    upAs("pull_request");
    const pr = project.outputs().layers;
    expect(pr["layer02-python-tools"].digest).not.toBe(moved["layer02-python-tools"].digest);
    // The pull request's image is pushed under its immutable tag, but latest stays put.
    expect(inspect(pr["layer02-python-tools"].imageRef).Digest).toBe(pr["layer02-python-tools"].digest);
    expect(latestDigest("layer02-python-tools")).toBe(moved["layer02-python-tools"].digest);
    expect(latestDigest("layer01-base-cuda")).toBe(before["layer01-base-cuda"].digest);
});
