// Bad input on the real engine: each case fails `pulumi up` before any resource exists,
// names the key or layer, and never echoes a secret.
import { TestProject, must } from "../support/stack";

const SENTINEL = "Sentinel-Secret-7f3a9c";
const project = new TestProject("badconfig");
const good = () => ({
    "layerstack:flake": `path:${project.flakeDir}`,
    "layerstack:registry": "127.0.0.1:5999",
    "layerstack:repository": "layerstack/megapak",
});

beforeAll(() => project.init(good()));
afterAll(() => project.dispose());

type Case = [string, Record<string, string | object>, string, Record<string, string>?];
const cases: Case[] = [
    ["an unknown parent", { "layerstack:layers": [{ id: "base", attr: "layer01-base-cuda" }, { id: "app", attr: "layer02-python-tools", parent: "nope" }] },
        'layerstack:layers: layer "app" has unknown parent "nope"'],
    ["a cycle", { "layerstack:layers": [{ id: "a", attr: "layer01-base-cuda", parent: "b" }, { id: "b", attr: "layer02-python-tools", parent: "a" }] },
        'layerstack:layers: layer "a" is in a cycle: a -> b -> a'],
    ["a duplicate id", { "layerstack:layers": [{ id: "a", attr: "layer01-base-cuda" }, { id: "a", attr: "layer02-python-tools" }] },
        'layerstack:layers[1]: duplicate layer id "a"'],
    ["a malformed registry", { "layerstack:registry": "http://127.0.0.1:5000/v2" }, 'layerstack:registry: "http://127.0.0.1:5000/v2" is not a registry host[:port]'],
    ["a malformed repository", { "layerstack:repository": "Layer Stack" }, 'layerstack:repository: "Layer Stack" is not a repository path'],
    ["a missing flake attribute", { "layerstack:layers": [{ id: "base", attr: "layer01-base-cuda" }, { id: "ghost", attr: "layer42-ghost", parent: "base" }] },
        'layerstack:layers: layer "ghost": the flake has no attribute packages.x86_64-linux.layer42-ghost'],
    ["a zero build timeout", { "layerstack:buildTimeout": "0" }, 'layerstack:buildTimeout: "0" must be a whole number of seconds, at least 1'],
    ["a bad variant", { "layerstack:variant": "Not Valid" }, 'layerstack:variant: "Not Valid" must be lowercase'],
    ["a bad check override", { "layerstack:checks": { "layer01-base-cuda": [{ name: "nvcc-version", skip: "yes" }] } }, "layerstack:checks.layer01-base-cuda[0]: skip must be true or false"],
    ["a password without a username", {}, "layerstack:registryUsername is required when layerstack:registryPassword is set", { "layerstack:registryPassword": SENTINEL }],
];

test.each(cases)("%s", (_name, change, message, secrets = {}) => {
    const keys = [...Object.keys(change), ...Object.keys(secrets)];
    try {
        for (const [k, v] of Object.entries(change)) project.setConfig(k, v);
        for (const [k, v] of Object.entries(secrets)) must(project.pulumi(["config", "set", "--secret", k], { input: v }), `config set --secret ${k}`);
        const r = project.up();
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(message);
        expect(r.stdout + r.stderr).not.toContain(SENTINEL);
        expect(r.stdout + r.stderr).not.toMatch(/at Object\.<anonymous>|\.ts:\d+:\d+/); // a message, not a stack trace
        const created = project.resources().filter((res) => !res.type.startsWith("pulumi:"));
        expect(created).toEqual([]);
    } finally {
        const base: Record<string, string> = good();
        for (const k of keys) must(k in base ? project.pulumi(["config", "set", k, base[k]]) : project.pulumi(["config", "rm", k]), `restore ${k}`);
    }
});

test("a flake that does not evaluate is reported with Nix's own error", () => {
    const flake = `${project.flakeDir}/flake.nix`;
    const fs = require("fs") as typeof import("fs");
    const original = fs.readFileSync(flake, "utf8");
    fs.writeFileSync(flake, original.replace("outputs = { self }:", "outputs = { self }: assert false;"));
    try {
        const r = project.up();
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(`layerstack:flake: evaluating path:${project.flakeDir}#packages.x86_64-linux failed`);
        expect(r.stdout + r.stderr).toContain("assertion");
        expect(project.resources().filter((res) => !res.type.startsWith("pulumi:"))).toEqual([]);
    } finally {
        fs.writeFileSync(flake, original);
    }
});
