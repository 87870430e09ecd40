// bounded() for real, under /bin/sh: the limit ends the whole tree, and so does a SIGKILL of
// the direct child (what the official command provider does on cancel and on its own timeout).
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import { bounded, boundedEnv } from "./bounded";

/** Pids of live (non-zombie) processes whose environment holds `marker`. */
function withMarker(marker: string): number[] {
    const out: number[] = [];
    for (const pid of fs.readdirSync("/proc")) {
        if (!/^\d+$/.test(pid) || Number(pid) === process.pid) continue;
        try {
            const stat = fs.readFileSync(`/proc/${pid}/stat`, "utf8");
            if (stat.slice(stat.lastIndexOf(")") + 2).startsWith("Z")) continue;
            if (fs.readFileSync(`/proc/${pid}/environ`, "utf8").includes(marker)) out.push(Number(pid));
        } catch { /* gone */ }
    }
    return out;
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
    const end = Date.now() + ms;
    while (Date.now() < end) {
        if (cond()) return true;
        await new Promise((r) => setTimeout(r, 50));
    }
    return cond();
}

const marker = () => `LAYERSTACK_TEST_MARKER=${crypto.randomBytes(6).toString("hex")}`;
const envWith = (m: string, step: string, seconds: number) => ({ ...process.env, ...boundedEnv(step, seconds), [m.split("=")[0]]: m.split("=")[1] });

test("stdin, stdout, stderr and the exit status pass through", () => {
    const r = spawnSync("/bin/sh", ["-c", bounded(`read line; echo "got $line"; echo err >&2; exit 7`)], {
        env: { ...process.env, ...boundedEnv("step", 10) }, input: "hello\n", encoding: "utf8",
    });
    expect(r.status).toBe(7);
    expect(r.stdout).toBe("got hello\n");
    expect(r.stderr).toBe("err\n");
});

test("at its limit the whole tree is stopped, background children too, and the step is named", async () => {
    const m = marker();
    const t0 = Date.now();
    const r = spawnSync("/bin/sh", ["-c", bounded(`sleep 60 & sleep 60`)], { env: envWith(m, "layer x: build", 1), encoding: "utf8" });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.status).toBe(124);
    expect(r.stderr).toBe("layer x: build: timed out after 1s (its time limit); every process it started was stopped\n");
    expect(await until(() => withMarker(m).length === 0, 3000)).toBe(true);
});

test("a SIGKILL of the direct child (the provider's cancel) still ends every process below it", async () => {
    const m = marker();
    const child = spawn("/bin/sh", ["-c", bounded(`sleep 60 & sleep 60`)], { env: envWith(m, "step", 100), stdio: "ignore" });
    // The shell, setpriv->timeout, the inner shell and both sleeps.
    expect(await until(() => withMarker(m).length >= 4, 5000)).toBe(true);
    child.kill("SIGKILL");
    expect(await until(() => withMarker(m).length === 0, 5000)).toBe(true);
});

test("the limit must be whole seconds", () => {
    expect(() => boundedEnv("s", 0)).toThrow("s: time limit must be a whole number of seconds >= 1, got 0");
    expect(() => boundedEnv("s", 1.5)).toThrow("got 1.5");
    expect(boundedEnv("s", 3)).toEqual({ LAYERSTACK_STEP: "s", LAYERSTACK_TIMEOUT: "3" });
});
