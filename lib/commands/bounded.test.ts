// scriptStub() for real, under /bin/sh as the command provider runs it: the limit ends the whole
// tree, and so does a SIGKILL of the direct child (what the official command provider does on
// cancel and on its own timeout).
import { spawn, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import { scriptEnv, scriptStub } from "./bounded";

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
const envWith = (m: string, script: string, seconds: number) => ({ ...process.env, ...scriptEnv(script, seconds), [m.split("=")[0]]: m.split("=")[1] });

test("stdin, stdout, stderr and the exit status pass through", () => {
    const r = spawnSync("/bin/sh", ["-c", scriptStub("step")], {
        env: { ...process.env, ...scriptEnv(`read line; echo "got $line from $0"; echo err >&2; exit 7`, 10) }, input: "hello\n", encoding: "utf8",
    });
    expect(r.status).toBe(7);
    expect(r.stdout).toBe("got hello from step\n");
    expect(r.stderr).toBe("err\n");
});

test("at its limit the whole tree is stopped, background children too, and the step is named", async () => {
    const m = marker();
    const t0 = Date.now();
    const r = spawnSync("/bin/sh", ["-c", scriptStub("layer-x-build")], { env: envWith(m, `sleep 60 & sleep 60`, 1), encoding: "utf8" });
    expect(Date.now() - t0).toBeLessThan(10_000);
    expect(r.status).toBe(124);
    expect(r.stderr).toBe("layer-x-build: timed out after 1s (its time limit); every process it started was stopped\n");
    expect(await until(() => withMarker(m).length === 0, 3000)).toBe(true);
});

test("a SIGKILL of the direct child (the provider's cancel) still ends every process below it", async () => {
    const m = marker();
    const child = spawn("/bin/sh", ["-c", scriptStub("step")], { env: envWith(m, `sleep 60 & sleep 60`, 100), stdio: "ignore" });
    // The shell, setpriv->timeout, the inner shell and both sleeps.
    expect(await until(() => withMarker(m).length >= 4, 5000)).toBe(true);
    child.kill("SIGKILL");
    expect(await until(() => withMarker(m).length === 0, 5000)).toBe(true);
});

test("the limit must be whole seconds, the step a resource name", () => {
    expect(() => scriptEnv("true", 0)).toThrow("time limit must be a whole number of seconds >= 1, got 0");
    expect(() => scriptEnv("true", 1.5)).toThrow("got 1.5");
    expect(scriptEnv("true", 3)).toEqual({ LAYERSTACK_SCRIPT: "true", LAYERSTACK_TIMEOUT: "3" });
    expect(() => scriptStub("x; rm -rf /")).toThrow('not a step name: "x; rm -rf /"');
});
