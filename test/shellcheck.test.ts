// Every shell script of the project passes Debian's shellcheck (installed by scripts/toolchain.sh):
// the files in scripts/, and every script the stack generates (lib/commands/), the host programs
// included. The host programs run on GPU hosts these tests reproduce only in part, so they are
// linted as well as run. Generated scripts run under /bin/sh (scriptStub's `sh -c`, the host's
// `sh -s`), so they are linted as POSIX sh.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as commands from "../lib/commands";
import { REPO } from "./support/stack";

/**
 * Pieces that are not scripts of their own: they expect variables their scripts set ($tmp, $out,
 * $kind, $copy_to) or close a program (HOST_PROGRAM_SUFFIX). Each is linted inside the scripts
 * that include it; the test checks that some linted script does.
 */
const FRAGMENTS = ["AGAIN_ON_5XX", "BLOB_LIMIT_CHECK", "COPY_TO_PUSH", "HOST_PROGRAM_SUFFIX", "IMAGE_KIND", "IMAGE_KIND_FUNCTIONS", "IMAGE_SOURCE", "REGISTRY_LOGIN"];
/** Host scripts: also linted as the whole program the host's `sh -s` reads (hostProgram). */
const HOST_SCRIPTS = ["PREFLIGHT_REMOTE", "INSTALL_REMOTE", "STATE_REMOTE", "REGISTER_REMOTE", "UNREGISTER_REMOTE"];

function shellcheck(args: string[], cwd = REPO): { status: number | null; out: string } {
    const r = spawnSync("shellcheck", ["-f", "gcc", ...args], { cwd, encoding: "utf8" });
    if (r.error) throw new Error(`shellcheck: ${r.error.message} (scripts/toolchain.sh installs Debian's shellcheck)`);
    return { status: r.status, out: r.stdout + r.stderr };
}

const generated = Object.entries(commands as Record<string, unknown>)
    .filter((e): e is [string, string] => typeof e[1] === "string" && e[1].includes("\n"))
    .sort(([a], [b]) => a.localeCompare(b));
const scripts = generated.filter(([name]) => !FRAGMENTS.includes(name));
const params = commands.runnerStdin({ RUNNER_DIR: "~/actions-runner", RUNNER_NAME: "r" });
const linted: [string, string][] = [
    ...scripts,
    ...HOST_SCRIPTS.map((n): [string, string] => [`hostProgram(${n})`, commands.hostProgram((commands as unknown as Record<string, string>)[n], params)]),
    ["scriptStub", commands.scriptStub("layer-build")],
];

describe("shellcheck", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-shellcheck-"));
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("shellcheck is there, and it does find a fault (so the tests below can fail)", () => {
        const bad = path.join(dir, "bad.sh");
        fs.writeFileSync(bad, "set -eu\nrm -rf $1/\n");
        const r = shellcheck(["-s", "sh", bad]);
        expect(r.status).not.toBe(0);
        expect(r.out).toContain("SC2086");
    });

    test("the lists of fragments and host scripts name real exports, and every fragment is inside a linted script", () => {
        const names = generated.map(([n]) => n);
        for (const n of [...FRAGMENTS, ...HOST_SCRIPTS]) expect({ n, exported: names.includes(n) }).toEqual({ n, exported: true });
        for (const n of FRAGMENTS) {
            const text = (commands as unknown as Record<string, string>)[n].trim();
            expect({ n, included: linted.some(([, s]) => s.includes(text)) }).toEqual({ n, included: true });
        }
        expect(scripts.length).toBeGreaterThan(20);
    });

    test.each(linted)("generated: %s", (name, text) => {
        const file = path.join(dir, `${name.replace(/[^A-Za-z0-9_]/g, "_")}.sh`);
        fs.writeFileSync(file, text + "\n");
        const r = shellcheck(["-s", "sh", file]);
        expect({ name, out: r.out }).toEqual({ name, out: "" });
        expect(r.status).toBe(0);
    });

    const files = ["scripts", "scripts/lib", "test/support"].flatMap((d) => fs.readdirSync(path.join(REPO, d))
        .filter((f) => f.endsWith(".sh")).map((f) => path.join(d, f)));
    test("every file in scripts/ that is shell is linted", () => {
        expect(files).toEqual(expect.arrayContaining(["scripts/toolchain.sh", "scripts/env.sh", "scripts/lib/nix-install.sh", "scripts/lib/pulumi-wrapper.sh", "scripts/runner.sh"]));
        // The rest of scripts/ is JavaScript or TypeScript.
        for (const d of ["scripts", "scripts/lib"]) {
            for (const f of fs.readdirSync(path.join(REPO, d))) {
                if (fs.statSync(path.join(REPO, d, f)).isDirectory() || f.endsWith(".sh")) continue;
                expect({ f, kind: /\.(js|mjs|ts)$/.test(f) }).toEqual({ f, kind: true });
            }
        }
    });
    test.each(files)("%s", (file) => {
        // -x follows the files a script sources (scripts/env.sh, scripts/lib/*.sh).
        const r = shellcheck(["-x", file]);
        expect({ file, out: r.out }).toEqual({ file, out: "" });
        expect(r.status).toBe(0);
    });
});
