// The `pulumi` wrapper and scripts/env.sh keep the two toolchains apart: any stack but dev
// goes to the official CLI on PATH with the environment untouched; only the dev stack (and
// the tests' throwaway stacks, LAYERSTACK_DEV_TOOLCHAIN=1) get the dev toolchain.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { REPO } from "../support/stack";

const WRAPPER = path.join(REPO, ".layerstack/bin/pulumi");
const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-wrapper-"));
const official = path.join(dir, "official");
fs.mkdirSync(official);
// An "official" CLI that reports how it was called.
fs.writeFileSync(path.join(official, "pulumi"), `#!/bin/sh
echo "official $*"
env | grep -E '^(PULUMI_|NIX_CONFIG|LAYERSTACK_DEV)' | sort
`, { mode: 0o755 });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A clean environment: nothing of the harness's own. */
function env(extra: Record<string, string> = {}, withOfficial = true): NodeJS.ProcessEnv {
    const base: NodeJS.ProcessEnv = { HOME: process.env.HOME, PATH: `${path.dirname(WRAPPER)}:${withOfficial ? `${official}:` : ""}/usr/bin:/bin` };
    return { ...base, ...extra };
}
const run = (args: string[], e: NodeJS.ProcessEnv) => {
    const r = spawnSync(WRAPPER, args, { env: e, encoding: "utf8" });
    return { code: r.status ?? -1, out: r.stdout + r.stderr };
};

test("a production stack goes to the official CLI, with the user's environment exactly as it was", () => {
    const r = run(["preview", "--stack", "cu130"], env({ PULUMI_ACCESS_TOKEN: "user-token", PULUMI_HOME: "/home/u/.pulumi" }));
    expect(r.code).toBe(0);
    expect(r.out).toBe("official preview --stack cu130\nPULUMI_ACCESS_TOKEN=user-token\nPULUMI_HOME=/home/u/.pulumi\n");
});

test("a production stack without an official CLI on PATH stops, saying so", () => {
    const r = run(["up", "--stack=org/layerstack/cu128"], env({}, false));
    expect(r.code).toBe(127);
    expect(r.out).toContain("pulumi (layerstack): stack 'org/layerstack/cu128' runs on the official Pulumi CLI, and there is none on PATH besides this dev wrapper.");
});

test("the dev stack gets the dev toolchain, its backend and passphrase; a test stack the toolchain only", () => {
    const dev = run(["version", "--stack", "dev"], env({ LAYERSTACK_PULUMI_DEBUG: "1" }));
    expect(dev.out).toContain(`pulumi wrapper: stack 'dev' -> dev toolchain (dev=1) PULUMI_BACKEND_URL=file://${REPO}/.layerstack/state`);
    // No --stack, a backend of its own: a test's throwaway stack, which must not get the dev backend.
    const t = run(["version"], env({ LAYERSTACK_PULUMI_DEBUG: "1", LAYERSTACK_DEV_TOOLCHAIN: "1", PULUMI_BACKEND_URL: "file:///tmp/x" }));
    expect(t.out).toContain("pulumi wrapper: stack '<none>' -> dev toolchain (dev=0) PULUMI_BACKEND_URL=file:///tmp/x");
    expect(t.out).toMatch(/^v3\.\d+\.\d+$/m);
});

test("sourcing scripts/env.sh sets nothing a stack would inherit, and puts no plugin on PATH", () => {
    const r = spawnSync("bash", ["-c", `source ${path.join(REPO, "scripts/env.sh")} && env && echo "-- bin:" && ls "$LAYERSTACK_BIN"`], { env: env(), encoding: "utf8" });
    expect(r.status).toBe(0);
    expect(r.stdout).not.toMatch(/^(PULUMI_[A-Z_]+|NIX_CONFIG)=/m);
    // The dev bin dir: the pulumi wrapper and the dev tools (actionlint, the pinned cosign), no plugin.
    const bin = r.stdout.split("-- bin:\n")[1].trim().split("\n");
    expect(bin).toEqual(["actionlint", "cosign", "pulumi"]);
});
