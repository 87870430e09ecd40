// Bad references and broken evaluations fail before any build, on the real engine: each case
// fails `pulumi up` (with and without --skip-preview) before any resource exists, naming the
// key, the layer or the flake attribute, and nothing is built, pushed or created, not even a
// sibling (the binary cache is configured, and never created).
import * as fs from "fs";
import * as path from "path";
import { TestProject, testPortOffset } from "../support/stack";

const project = new TestProject("badrefs", { shims: true });
const REGISTRY = `127.0.0.1:${5849 + testPortOffset()}`; // never contacted: everything fails before
const cacheDir = path.join(project.dir, "nix-cache");
const good = () => ({
    "layerstack:flake": `path:${project.flakeDir}`,
    "layerstack:registry": REGISTRY,
    "layerstack:repository": "layerstack/megapak",
    "layerstack:layers": [{ id: "base", attr: "layer01-base-cuda" }],
    // A sibling: the program must not declare it when evaluation fails.
    "layerstack:cache": "nix-store",
    "layerstack:cacheUrl": `file://${cacheDir}`,
});

beforeAll(() => {
    // Two attributes of the test's own flake copy that do not evaluate: one throws (caught per
    // attribute by builtins.tryEval), one fails in a way tryEval cannot catch (a missing attribute).
    const flake = path.join(project.flakeDir, "flake.nix");
    const text = fs.readFileSync(flake, "utf8");
    const packages = "packages.${system} = builtins.mapAttrs (_: layerImage) byAttr // largeImages;";
    if (!text.includes(packages)) throw new Error("the fixture flake's packages line changed");
    fs.writeFileSync(flake, text.replace(packages,
        "packages.${system} = builtins.mapAttrs (_: layerImage) byAttr // largeImages // { broken-throw = throw \"this layer is broken on purpose\"; broken-missing = byAttr.no-such-layer; };"));
    project.init(good());
});
afterAll(() => project.dispose());

const long = "r".repeat(240);
type Case = [string, Record<string, string | object>, string];
const cases: Case[] = [
    ["an id with two periods in a row", { "layerstack:layers": [{ id: "base..cuda", attr: "layer01-base-cuda" }] },
        'layerstack:layers[0]: layer id "base..cuda" is not a repository path component'],
    ["an uppercase id", { "layerstack:layers": [{ id: "Base", attr: "layer01-base-cuda" }] },
        'layerstack:layers[0]: layer id "Base" is not a repository path component'],
    ["an uppercase repository", { "layerstack:repository": "Layerstack/megapak" },
        'layerstack:repository: "Layerstack/megapak" is not a repository path'],
    ["a repository with a separator at the end", { "layerstack:repository": "layerstack/megapak-" },
        'layerstack:repository: "layerstack/megapak-" is not a repository path'],
    ["a repository too long for any image name", { "layerstack:repository": `${long}/${"s".repeat(20)}` },
        `layerstack:repository: "${REGISTRY}/${long}/${"s".repeat(20)}" is ${REGISTRY.length + 262} characters, which leaves no room for a layer id: an image name may have at most 255`],
    // Room for a one-character id, not for "base": the layer's own name is too long.
    ["an image name over 255 characters", { "layerstack:repository": "r".repeat(252 - REGISTRY.length) },
        `layerstack:layers: layer "base": "${REGISTRY}/${"r".repeat(252 - REGISTRY.length)}/base" is 258 characters; an image name may have at most 255`],
    ["an attribute that throws", { "layerstack:layers": [{ id: "base", attr: "layer01-base-cuda" }, { id: "thrower", attr: "broken-throw", parent: "base" }] },
        `layerstack:layers: layer "thrower": packages.x86_64-linux.broken-throw does not evaluate (path:${project.flakeDir}):`],
    ["an attribute that fails beyond tryEval", { "layerstack:layers": [{ id: "base", attr: "layer01-base-cuda" }, { id: "missing", attr: "broken-missing" }] },
        `layerstack:layers: layer "missing": packages.x86_64-linux.broken-missing does not evaluate (path:${project.flakeDir}):`],
];
const detail: Record<string, string> = {
    "an attribute that throws": "this layer is broken on purpose",
    "an attribute that fails beyond tryEval": "attribute 'no-such-layer' missing",
};

describe.each([["up --skip-preview", ["up", "--yes", "--skip-preview"]], ["up with its preview", ["up", "--yes"]]])("%s", (_mode, args) => {
    test.each(cases)("%s fails before any resource exists, naming it", (name, change, message) => {
        const keys = Object.keys(change);
        try {
            for (const [k, v] of Object.entries(change)) project.setConfig(k, v);
            const before = project.argvCount();
            const r = project.pulumi(args);
            expect(r.code).not.toBe(0);
            const out = r.stdout + r.stderr;
            expect(out).toContain(message);
            if (detail[name]) expect(out).toContain(detail[name]);
            expect(out).not.toMatch(/at Object\.<anonymous>|\.ts:\d+:\d+/);
            expect(project.resources().filter((res) => !res.type.startsWith("pulumi:"))).toEqual([]);
            // Nothing but the evaluation and, when there is one, the version check before it (lib/nixCli.ts
            // requireNix); a layer list the settings refuse runs no Nix at all.
            const calls = project.argv(before);
            const evaluated = calls.some((a) => a[0] === "nix" && a.includes("eval"));
            expect(calls.filter((a) => a[0] !== "nix" || !a.includes("eval"))).toEqual(evaluated ? [["nix", "--version"]] : []);
            expect(fs.existsSync(cacheDir)).toBe(false);
        } finally {
            const base: Record<string, string | object> = good();
            for (const k of keys) project.setConfig(k, base[k]);
        }
    });
});

test("the good config of this file evaluates: a preview plans the layer and the cache", () => {
    const r = project.pulumi(["preview", "--json"]);
    expect(r.code).toBe(0);
    const names = JSON.parse(r.stdout).steps.map((s: { urn: string }) => s.urn.split("::").pop());
    expect(names).toEqual(expect.arrayContaining(["cache", "cache-push-base", "base-build", "base-push", "base-in-registry"]));
});
