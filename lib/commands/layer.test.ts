// AGAIN_ON_5XX for real, under /bin/sh, with a stand-in for the copy that fails as skopeo does
// (its own message, its exit status) a given number of times: what is tried again, and what not.
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { AGAIN_ON_5XX } from "./layer";

let tmp: string;
beforeEach(() => { tmp = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-again-")); });
afterEach(() => fs.rmSync(tmp, { recursive: true, force: true }));

/**
 * Runs `again_on_5xx copy` where `copy` fails `failures` times with `message` (exit 1), then
 * succeeds; returns the exit status, stderr, how many times the copy ran and how long it took.
 */
function run(failures: number, message: string) {
    const copy = path.join(tmp, "copy");
    fs.writeFileSync(copy, `#!/bin/sh
n=$(cat "${tmp}/calls" 2>/dev/null || echo 0); n=$((n + 1)); echo "$n" > "${tmp}/calls"
echo "copy called with: $*"
if [ "$n" -le ${failures} ]; then echo 'time="2026-11-21T12:30:57Z" level=fatal msg="${message}"' >&2; exit 1; fi
echo "copied" >&2
`, { mode: 0o755 });
    const t0 = Date.now();
    const r = spawnSync("/bin/sh", ["-c", `set -eu\n${AGAIN_ON_5XX}\nagain_on_5xx "$0" --quiet "docker://r/x:t" >&2\necho done`, copy],
        { env: { PATH: process.env.PATH!, tmp, LAYERSTACK_LAYER: "layer01-base-cuda" }, encoding: "utf8" });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr, calls: Number(fs.readFileSync(path.join(tmp, "calls"), "utf8")), ms: Date.now() - t0 };
}

const BAD_GATEWAY = "writing blob: uploading layer chunked: received unexpected HTTP status: 502 Bad Gateway";

test("a 502 twice, then the copy goes through: the push succeeds after waiting 2 s and 4 s, and says why", () => {
    const r = run(2, BAD_GATEWAY);
    expect(r.status).toBe(0);
    expect(r.stdout).toBe("done\n");
    expect(r.calls).toBe(3);
    expect(r.ms).toBeGreaterThanOrEqual(6000);
    const lines = r.stderr.split("\n").filter((l) => l !== "");
    expect(lines).toEqual([
        "copy called with: --quiet docker://r/x:t",
        `time="2026-11-21T12:30:57Z" level=fatal msg="${BAD_GATEWAY}"`,
        "layer layer01-base-cuda: the registry answered with a server error; pushing again in 2s (1 of 2)",
        "copy called with: --quiet docker://r/x:t",
        `time="2026-11-21T12:30:57Z" level=fatal msg="${BAD_GATEWAY}"`,
        "layer layer01-base-cuda: the registry answered with a server error; pushing again in 4s (2 of 2)",
        "copy called with: --quiet docker://r/x:t",
        "copied",
    ]);
});

test("a 503 three times: the third failure is final, with the copy's status and message", () => {
    const msg = "writing manifest: received unexpected HTTP status: 503 Service Unavailable";
    const r = run(3, msg);
    expect(r.status).toBe(1);
    expect(r.stdout).toBe("");
    expect(r.calls).toBe(3);
    expect(r.stderr.split("\n").filter((l) => l.includes("level=fatal"))).toHaveLength(3);
    expect(r.stderr.trimEnd().split("\n").pop()).toBe(`time="2026-11-21T12:30:57Z" level=fatal msg="${msg}"`);
});

test.each([
    ["a refused login", "authentication required"],
    ["a client error", "received unexpected HTTP status: 413 Request Entity Too Large"],
    ["a registry that is down", "pinging container registry 127.0.0.1:5999: Get \"http://127.0.0.1:5999/v2/\": dial tcp 127.0.0.1:5999: connect: connection refused"],
])("%s is not tried again", (_what, msg) => {
    const r = run(1, msg);
    expect(r.status).toBe(1);
    expect(r.calls).toBe(1);
    expect(r.stderr).not.toContain("pushing again");
    expect(r.stderr).toContain(msg);
});
