// Smoke checks gate publication: they run inside the pushed fixture images on this machine,
// a failing check stops its descendants, and a check's own change re-runs only that check.
import { TestProject, TestRegistry, must } from "../support/stack";
import { execFileSync } from "child_process";

const registry = new TestRegistry(5102);
const project = new TestProject("checks", { shims: true });
const LAYERS = [
    { id: "layer01-base-cuda", attr: "layer01-base-cuda" },
    { id: "layer02-python-tools", attr: "layer02-python-tools", parent: "layer01-base-cuda" },
    { id: "layer03-gcc15", attr: "layer03-gcc15", parent: "layer02-python-tools", format: "docker-archive" },
    { id: "layer04-pytorch", attr: "layer04-pytorch", parent: "layer03-gcc15" },
];
const FAILING = { "layer02-python-tools": [{ name: "python-version", script: "echo deliberately failing check; python --version; exit 3" }] };

function repoTags(id: string): string[] {
    try {
        const out = execFileSync("skopeo", ["list-tags", "--tls-verify=false", `docker://${registry.address}/layerstack/megapak/${id}`], { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] });
        return JSON.parse(out).Tags;
    } catch {
        return []; // the repository does not exist
    }
}
const stateNames = () => project.resources().map((r) => r.urn.split("::").pop() as string);

beforeAll(() => {
    registry.start();
    project.initFor(registry, {
        "layerstack:layers": LAYERS,
        "layerstack:checks": FAILING,
    });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

test("a failing check fails up with its output, and nothing beneath the layer is pushed", () => {
    const r = project.up();
    expect(r.code).not.toBe(0);
    const out = r.stdout + r.stderr;
    expect(out).toContain("check python-version failed in");
    expect(out).toContain("deliberately failing check");
    expect(out).toContain("Python 3.14.0"); // the check really ran inside the image
    // The layer itself and its ancestors are published (the check runs on the pushed digest)...
    expect(repoTags("layer01-base-cuda")).toHaveLength(1);
    expect(repoTags("layer02-python-tools")).toHaveLength(1);
    // ...its descendants are not, in the registry or in the state.
    expect(repoTags("layer03-gcc15")).toEqual([]);
    expect(repoTags("layer04-pytorch")).toEqual([]);
    const names = stateNames();
    expect(names).toContain("layer01-base-cuda-check-nvcc-version");
    expect(names).not.toContain("layer02-python-tools-check-python-version");
    expect(names).not.toContain("layer03-gcc15-push");
    expect(names).not.toContain("layer04-pytorch-push");
    // Descendants' builds are not gated: Nix built them while the checks ran.
    expect(names).toContain("layer04-pytorch-build");
});

test("with the check fixed, up publishes the rest; checks ran inside the images", () => {
    project.setConfig("layerstack:checks", {});
    must(project.up(), "up after fixing the check");
    for (const l of LAYERS) expect(repoTags(l.id)).toHaveLength(1);
    const res = project.resources();
    const stdoutOf = (name: string) => res.find((x) => x.urn.endsWith(`::${name}`))?.outputs.stdout as string;
    expect(stdoutOf("layer01-base-cuda-check-nvcc-version")).toContain("Cuda compilation tools, release 13.0");
    expect(stdoutOf("layer02-python-tools-check-python-version")).toContain("Python 3.14.0");
    expect(stdoutOf("layer04-pytorch-check-torch-cuda-version")).toContain("torch 2.10.0 cuda 13.0");
    // The GPU check is declared but not run on a machine without a GPU.
    expect(res.some((x) => x.urn.endsWith("::layer04-pytorch-check-torch-sees-gpu"))).toBe(false);
});

test("changing one check re-runs that check and nothing else", () => {
    project.setConfig("layerstack:checks", { "layer02-python-tools": [{ name: "python-version", script: "python --version && test -f /opt/megapak/layer02-python-tools/CONTENT" }] });
    const r = must(project.pulumi(["preview", "--json"]), "preview");
    const changed = JSON.parse(r.stdout).steps.filter((s: any) => s.op !== "same").map((s: any) => `${s.op} ${s.urn.split("::").pop()}`);
    expect(changed.filter((c: string) => !/^(create-replacement|delete-replaced)/.test(c))).toEqual(["replace layer02-python-tools-check-python-version"]);
    const before = project.argvCount();
    must(project.up(), "up with the changed check");
    expect(project.argv(before).filter((a) => a[0] === "nix-store")).toEqual([]);
    expect(project.argv(before).filter((a) => a[0] === "skopeo" && a.includes("copy") && a.some((x) => x.startsWith("oci:") && !x.includes(":check")))).toEqual([]);
});

test("a check that gets skipped by config is not run", () => {
    project.setConfig("layerstack:checks", { "layer01-base-cuda": [{ name: "nvcc-version", skip: true }] });
    must(project.up(), "up with a skipped check");
    expect(stateNames()).not.toContain("layer01-base-cuda-check-nvcc-version");
});
