// The CI workflow passes actionlint (built by scripts/toolchain.sh from the Go module proxy).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { REPO } from "../support/stack";

const WORKFLOW = path.join(REPO, ".github/workflows/layerstack.yml");

test("actionlint finds nothing in the workflow", () => {
    const r = spawnSync("actionlint", ["-config-file", path.join(REPO, ".github/actionlint.yaml"), WORKFLOW], { encoding: "utf8" });
    expect(r.error).toBeUndefined();
    expect(r.stdout + r.stderr).toBe("");
    expect(r.status).toBe(0);
});

test("actionlint does fail on a broken workflow (so the test above can fail)", () => {
    const broken = path.join(fs.mkdtempSync("/tmp/layerstack-wf-"), "broken.yml");
    fs.writeFileSync(broken, fs.readFileSync(WORKFLOW, "utf8").replace("runs-on: ubuntu-24.04", "runs-on: ubuntu-24.04\n    if: ${{ secrets.PULUMI_CONFIG_PASSPHRASE != '' }}"));
    const r = spawnSync("actionlint", ["-config-file", path.join(REPO, ".github/actionlint.yaml"), broken], { encoding: "utf8" });
    expect(r.status).not.toBe(0);
});

test("secrets reach steps only through env, never in an if:", () => {
    const text = fs.readFileSync(WORKFLOW, "utf8");
    const ifs = text.split("\n").filter((l) => /^\s*if:/.test(l));
    expect(ifs.length).toBeGreaterThan(0);
    for (const l of ifs) expect(l).not.toContain("secrets.");
});
