// Issue 20: checks run in the image's own environment. The fixture's `nobin` image has no /bin:
// its shell is busybox in a store path, named by its PATH, and its LD_LIBRARY_PATH is its own;
// `noshell` has no shell on its PATH at all. Real Nix, registry, skopeo, umoci and bubblewrap.
import { execFileSync } from "child_process";
import { TestProject, TestRegistry, must } from "../support/stack";
import { DRIVER_LIB_DIRS, GPU_CHECK_ENV } from "../../lib/commands/check";

const registry = new TestRegistry(5702);
const project = new TestProject("imageenv", { shims: true });
const LAYERS = [
    {
        id: "nobin", attr: "nobin", checks: [
            // A script, run by the first sh on the image's PATH (a store path: there is no /bin/sh).
            { name: "env", script: "env | sort; echo \"shell is $(readlink /proc/$$/exe)\"; pwd" },
            // An argv, run as it is: its program found on the image's PATH.
            { name: "argv-ls-root", argv: ["ls", "-1", "/"] },
            // The image's User (1000:1000, no /etc/passwd: numeric, as Docker takes it).
            { name: "argv-id", argv: ["id"] },
        ],
    },
    { id: "noshell", attr: "noshell", checks: [{ name: "argv-env", argv: ["env"] }] },
];

/** The image's config as the registry holds it. */
function imageConfig(ref: string): { Env: string[]; WorkingDir?: string; User?: string } {
    return JSON.parse(execFileSync("skopeo", ["inspect", "--config", "--tls-verify=false", `docker://${ref}`], { encoding: "utf8" })).config;
}
const stdoutOf = (name: string) => project.resources().find((x) => x.urn.endsWith(`::${name}`))?.outputs.stdout as string;
const envLine = (out: string, name: string) => out.split("\n").find((l) => l.startsWith(`${name}=`))?.slice(name.length + 1);

beforeAll(() => {
    registry.start();
    project.initFor(registry, { "layerstack:layers": LAYERS });
});
afterAll(() => {
    registry.dispose();
    project.dispose();
});

test("a layer with no /bin passes its checks in its own Env: its PATH, its LD_LIBRARY_PATH first, its WorkingDir and User", () => {
    must(project.up(), "up");
    const layers = project.outputs().layers;
    const config = imageConfig(layers.nobin.imageRef);
    const imagePath = config.Env.find((e) => e.startsWith("PATH="))!.slice(5);
    const imageLd = config.Env.find((e) => e.startsWith("LD_LIBRARY_PATH="))!.slice(16);
    expect(imagePath).toMatch(/^\/nix\/store\/[0-9a-z]{32}-fixture-tools\/bin$/);

    // The image has no /bin: the argv check listed its root.
    const root = stdoutOf("nobin-check-argv-ls-root").split("\n");
    expect(root).toContain("nix");
    expect(root).not.toContain("bin");

    const out = stdoutOf("nobin-check-env");
    expect(envLine(out, "PATH")).toBe(imagePath);
    // The shell that ran the script is the image's own (busybox's sh applet in the store path).
    expect(out).toContain(`shell is ${imagePath}/busybox`);
    // The image's own entries first, then only the driver's directories.
    expect(envLine(out, "LD_LIBRARY_PATH")).toBe(`${imageLd}:${DRIVER_LIB_DIRS.join(":")}`);
    expect(envLine(out, "LD_LIBRARY_PATH")!.split(":").slice(0, 2)).toEqual(imageLd.split(":"));
    expect(envLine(out, "NOBIN_MARK")).toBe("image-env");
    for (const e of GPU_CHECK_ENV) expect(out.split("\n")).toContain(e);
    expect(out.trim().split("\n").pop()).toBe(config.WorkingDir);
    expect(config.WorkingDir).toBe("/opt/megapak/nobin");

    expect(stdoutOf("nobin-check-argv-id")).toMatch(/^uid=1000 gid=1000/);
    expect(config.User).toBe("1000:1000");

    // No shell needed for an argv check.
    expect(envLine(stdoutOf("noshell-check-argv-env"), "PATH")).toMatch(/^\/nix\/store\/[0-9a-z]{32}-fixture-tools-nosh\/bin$/);
});

test("a script check on an image with no sh on its PATH fails, naming the layer and the PATH searched", () => {
    project.setConfig("layerstack:checks", { noshell: [{ name: "script", script: "true" }] });
    const r = project.up();
    expect(r.code).not.toBe(0);
    const imagePath = imageConfig(project.outputs().layers.noshell.imageRef).Env.find((e) => e.startsWith("PATH="))!.slice(5);
    expect(r.stdout + r.stderr).toContain(`check script of layer noshell is a script, but the image has no sh on its PATH (${imagePath})`);
    // The argv check of the same image still passed.
    expect(stdoutOf("noshell-check-argv-env")).toContain(`PATH=${imagePath}`);
});
