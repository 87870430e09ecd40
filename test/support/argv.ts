// Samples every process's argv (/proc/<pid>/cmdline) while a command runs, to prove that no
// secret is ever in one (test/e2e/secrets.test.ts and runner.test.ts use it).
import * as fs from "fs";
import * as path from "path";

export class ArgvSampler {
    /** `pid <n>: <program> (<needle's label>)` for every argv that held a needle. */
    hits: string[] = [];
    samples = 0;
    /** Base names of the programs seen (and of the script a shell or node ran). */
    seen = new Set<string>();
    private timer?: NodeJS.Timeout;

    /** `needles`: label -> the secret (or a distinctive part of it). */
    constructor(private needles: Record<string, string>, private ms = 20) {}

    private sample(): void {
        this.samples++;
        for (const pid of fs.readdirSync("/proc")) {
            if (!/^\d+$/.test(pid)) continue;
            let argv: string;
            try { argv = fs.readFileSync(`/proc/${pid}/cmdline`, "latin1"); } catch { continue; }
            if (!argv) continue;
            const args = argv.split("\0");
            this.seen.add(path.basename(args[0]));
            if (args[0].endsWith("sh") || path.basename(args[0]) === "node") this.seen.add(path.basename(args[1] ?? ""));
            for (const [label, n] of Object.entries(this.needles)) if (argv.includes(n)) this.hits.push(`pid ${pid}: ${args[0]} (${label})`);
        }
    }

    start(): void { this.sample(); this.timer = setInterval(() => this.sample(), this.ms); }
    stop(): void { clearInterval(this.timer); this.sample(); }
}

/**
 * Shims that append each call's argv (NUL-separated, one record per line) to `log`, then exec
 * the real program, resolved now from the current PATH. Unlike sampling, they see every call,
 * however short. `readArgvLog` reads the records back.
 */
export function makeArgvShims(dir: string, programs: string[], log: string): string {
    fs.mkdirSync(dir, { recursive: true });
    for (const p of programs) {
        const real = require("child_process").spawnSync("sh", ["-c", `command -v ${p}`], { encoding: "utf8" }).stdout.trim();
        if (!real) throw new Error(`no ${p} to shim`);
        fs.writeFileSync(path.join(dir, p), `#!/bin/sh\nprintf '%s\\0' ${p} "$@" >> ${log}\nprintf '\\n' >> ${log}\nexec ${real} "$@"\n`, { mode: 0o755 });
    }
    return dir;
}

export function readArgvLog(log: string): string[][] {
    if (!fs.existsSync(log)) return [];
    return fs.readFileSync(log, "latin1").split("\0\n").filter(Boolean).map((r) => r.replace(/^\n+/, "").split("\0"));
}
