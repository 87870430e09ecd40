// The one-layer workflow: `npm run layer -- <id>` builds, pushes and checks that layer and
// its ancestors and nothing else; `npm run layer:shell` runs a command inside its image.
import { execFileSync, spawnSync } from "child_process";
import * as path from "path";
import { REPO, TestProject, TestRegistry } from "../support/stack";

const registry = new TestRegistry(5103);
const project = new TestProject("onelayer");

beforeAll(() => {
    registry.start();
    project.initFor(registry);
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

// The scripts run from the test's project copy, so they act on its stack and backend.
function script(name: string, args: string[]) {
    return spawnSync("bash", [path.join(project.dir, "scripts", name), ...args], {
        cwd: project.dir, env: { ...project.env, STACK: project.stack }, encoding: "utf8",
    });
}

beforeAll(() => {
    execFileSync("cp", ["-r", path.join(REPO, "scripts"), path.join(project.dir, "scripts")]);
    execFileSync("mkdir", ["-p", path.join(project.dir, ".layerstack")]);
    execFileSync("ln", ["-s", path.join(REPO, ".layerstack/bin"), path.join(project.dir, ".layerstack/bin")]);
});

test("layer.sh publishes the layer and its ancestors only", () => {
    const r = script("layer.sh", ["layer03-gcc15"]);
    expect(r.stderr + r.stdout).toContain("layer.sh: layer01-base-cuda layer02-python-tools layer03-gcc15");
    if (r.status !== 0) throw new Error(`layer.sh failed:\n${r.stdout.slice(-4000)}\n${r.stderr.slice(-2000)}`);
    const names = project.resources().map((x) => x.urn.split("::").pop() as string);
    for (const id of ["layer01-base-cuda", "layer02-python-tools", "layer03-gcc15"]) {
        expect(names).toContain(`${id}-build`);
        expect(names).toContain(`${id}-push`);
    }
    expect(names).toContain("layer01-base-cuda-check-nvcc-version");
    expect(names.filter((n) => /^layer(0[4-9]|1[0-2])/.test(n))).toEqual([]);
});

test("layer-shell.sh runs a command inside a published layer's image", () => {
    // The layers output only exists after a full up; publish the rest, then look inside.
    expect(project.up().code).toBe(0);
    const r = script("layer-shell.sh", ["layer12-comfyui", "sh", "-c", "python --version; ls /opt/megapak | wc -l"]);
    expect(r.status).toBe(0);
    // Layer 12's image holds every layer of its chain, 09 included (the real flake's chain).
    expect(r.stdout).toBe("Python 3.14.0\n12\n");
});

test("an unknown layer is refused by name", () => {
    const r = script("layer.sh", ["layer99-nope"]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('no layer "layer99-nope"');
});
