// The import rule (.dependency-cruiser.cjs) holds for the tree, and fails, naming the rule and
// the files, on a deliberately wrong import or a cycle: dependency-cruiser's own CLI on a
// throwaway copy of the sources.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const REPO = path.resolve(__dirname, "..");
const SOURCES = ["index.ts", "layerstack.ts", "settings", "components", "layers", "lib"];
const DEPCRUISE = path.join(REPO, "node_modules/dependency-cruiser/bin/dependency-cruise.mjs");

/** A copy of the sources and the rule, with `edit` applied; depcruise's exit code and report. */
function cruise(edit: (dir: string) => void = () => {}): { code: number; out: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-deps-"));
    try {
        for (const f of [...SOURCES, "tsconfig.json", "package.json", ".dependency-cruiser.cjs"]) fs.cpSync(path.join(REPO, f), path.join(dir, f), { recursive: true });
        fs.symlinkSync(path.join(REPO, "node_modules"), path.join(dir, "node_modules"));
        edit(dir);
        const r = spawnSync(process.execPath, [DEPCRUISE, "--config", ".dependency-cruiser.cjs", "--output-type", "err", ...SOURCES], { cwd: dir, encoding: "utf8" });
        return { code: r.status ?? -1, out: r.stdout + r.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

function prepend(file: string, line: string): void {
    fs.writeFileSync(file, `${line}\n${fs.readFileSync(file, "utf8")}`);
}

describe("imports run one way: index.ts -> settings/ -> components/ -> layers/ -> lib/", () => {
    test("the tree as it is has no violation", () => {
        const r = cruise();
        expect(r.out).toContain("no dependency violations found");
        expect(r.code).toBe(0);
    });

    test("lib/ importing a component fails, naming the rule and both files", () => {
        const r = cruise((d) => prepend(path.join(d, "lib/graph.ts"), 'import type { ImagePipelineArgs } from "../components/imagePipeline";\nexport type Bad = ImagePipelineArgs;'));
        expect(r.code).not.toBe(0);
        expect(r.out).toMatch(/error lib-imports-downward-only: lib\/graph\.ts → components\/imagePipeline\.ts/);
    });

    test("a component importing the catalog fails", () => {
        const r = cruise((d) => prepend(path.join(d, "components/layerChecks.ts"), 'import { MEGAPAK } from "../layers/megapak";\nexport const bad = MEGAPAK;'));
        expect(r.code).not.toBe(0);
        expect(r.out).toMatch(/error components-not-catalog: components\/layerChecks\.ts → layers\/megapak\.ts/);
    });

    test("a cycle inside lib/ fails", () => {
        const r = cruise((d) => {
            prepend(path.join(d, "lib/errors.ts"), 'import { DEFAULT_SYSTEM } from "./defaults";\nexport const bad = DEFAULT_SYSTEM;');
            prepend(path.join(d, "lib/defaults.ts"), 'import { raiseAll } from "./errors";\nexport const bad2 = raiseAll;');
        });
        expect(r.code).not.toBe(0);
        expect(r.out).toMatch(/error no-circular: lib\/(errors|defaults)\.ts → /);
    });
});
