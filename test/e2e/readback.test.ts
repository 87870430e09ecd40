// The registry read-back's provider (components/registryImage.ts RegistryReadBack), on the real
// engine: the program declares it first, before its evaluation, so the engine starts the dynamic
// provider's process while Nix evaluates; and a stack published before it, whose RegistryImages
// have the engine's default pulumi-nodejs provider, moves to it with one provider update:
// nothing is replaced, built or pushed again.
import * as fs from "fs";
import * as path from "path";
import { TestProject, TestRegistry, must } from "../support/stack";

const registry = new TestRegistry(5806);
const project = new TestProject("readback", { shims: true });
const LAYERS = [
    { id: "layer01-base-cuda" },
    { id: "layer02-python-tools", parent: "layer01-base-cuda" },
];
const DECLARED = "new RegistryReadBack(STACK_COMPONENTS.readBack)";

beforeAll(() => {
    registry.start();
    project.initFor(registry, { "layerstack:layers": LAYERS });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

const nameOf = (urn: string) => urn.split("::").pop() as string;

test("a stack published with the default provider moves to it: one provider update, nothing replaced, nothing built or pushed", () => {
    const index = path.join(project.dir, "index.ts");
    const shipped = fs.readFileSync(index, "utf8");
    expect(shipped).toContain(DECLARED);
    // The program as it was before RegistryReadBack: the RegistryImages get the engine's default provider.
    fs.writeFileSync(index, shipped.replace(DECLARED, "undefined"));
    must(project.up(), "up with the default provider");
    const before = project.resources().filter((r) => r.type === "pulumi:providers:pulumi-nodejs");
    expect(before.map((r) => nameOf(r.urn))).toEqual(["default"]);

    fs.writeFileSync(index, shipped);
    const steps: any[] = JSON.parse(must(project.pulumi(["preview", "--json"]), "preview --json").stdout).steps;
    expect(steps.filter((s) => s.op !== "same").map((s) => `${s.op} ${nameOf(s.urn)}`)).toEqual(["update registry-read-back"]);
    // Declared first: the first step after the stack's own is the provider's, before any layer's.
    expect(steps.map((s) => s.urn).filter((u: string) => !u.endsWith("::pulumi:pulumi:Stack::layerstack-readback"))[0])
        .toBe("urn:pulumi:readback::layerstack::pulumi:providers:pulumi-nodejs::registry-read-back");

    const argvFrom = project.argvCount();
    must(project.up(), "up with RegistryReadBack");
    expect(project.argv(argvFrom).filter((a) => a[0] === "skopeo" || a[0] === "nix-store")).toEqual([]);
    const res = project.resources();
    const provider = res.filter((r) => r.type === "pulumi:providers:pulumi-nodejs");
    expect(provider.map((r) => nameOf(r.urn))).toEqual(["registry-read-back"]);
    // The same provider (its id kept), and every read-back served by it.
    expect(provider[0].id).toBe(before[0].id);
    const checks = res.filter((r) => r.type === "pulumi-nodejs:dynamic/layerstack:RegistryImage");
    expect(checks.map((r) => nameOf(r.urn)).sort()).toEqual(LAYERS.map((l) => `${l.id}-in-registry`).sort());
    for (const c of checks) expect(c.provider).toBe(`${provider[0].urn}::${provider[0].id}`);
    must(project.pulumi(["preview", "--expect-no-changes"]), "preview --expect-no-changes");
});
