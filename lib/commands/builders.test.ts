// The script that hands the stack's builders to Nix (WITH_BUILDERS), run for real under /bin/sh:
// what Nix sees, where the key is, and that it is gone however the command ends.
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { machinesText } from "../builders";
import { scriptEnv, scriptStub } from "./bounded";
import { withBuilders } from "./builders";
import { withNixConfig } from "./cache";

const HK1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const HK2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2c0pMvN3Vs1m5sbx1J4Z2N8HqRr3d3Zk3Q0wq9s7Ft";

describe("withBuilders, under /bin/sh", () => {
    const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAAtest-only-not-a-key\n-----END OPENSSH PRIVATE KEY-----";
    const MACHINES = machinesText([
        { uri: "ssh-ng://nix@b1.example.com", host: "b1.example.com", systems: ["x86_64-linux"], maxJobs: 8, speedFactor: 1, supportedFeatures: ["big-parallel"], mandatoryFeatures: [], hostKey: HK1 },
        { uri: "ssh-ng://nix@b2.example.com", host: "b2.example.com", systems: [], supportedFeatures: [], mandatoryFeatures: [], hostKey: HK2 },
    ]);
    let out: string;
    beforeEach(() => { out = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-builders-unit-")); });
    afterEach(() => fs.rmSync(out, { recursive: true, force: true }));

    // What Nix would see: its NIX_CONFIG and NIX_SSHOPTS, the key file named in field 3, its mode.
    const PROBE = `printf '%s' "$NIX_CONFIG" > "$OUT/nix_config"
printf '%s' "$NIX_SSHOPTS" > "$OUT/sshopts"
env > "$OUT/env"
key=$(printf '%s\\n' "$NIX_CONFIG" | sed -n 's/^builders = [^ ]* [^ ]* \\([^ ]*\\) .*/\\1/p')
printf '%s' "$key" > "$OUT/keypath"
stat -c %a "$key" > "$OUT/mode"
stat -c %a "$(dirname "$key")" > "$OUT/dirmode"
cat "$key" > "$OUT/key"`;
    const env = (extra: Record<string, string> = {}) => ({
        PATH: process.env.PATH!, OUT: out, LAYERSTACK_NIX_BUILDERS: MACHINES, LAYERSTACK_NIX_BUILDERS_SSH_KEY: KEY,
        LAYERSTACK_NIX_CONFIG: "substituters =\nmax-jobs = 0", NIX_CONFIG: "connect-timeout = 5", NIX_SSHOPTS: "-p 2222 -o HostKeyAlias=b", ...extra,
    });
    const read = (f: string) => fs.readFileSync(path.join(out, f), "utf8");

    test("Nix gets the machines with the key file's path, after the stack's settings and before the caller's; the file is private and gone afterwards", () => {
        const r = spawnSync("/bin/sh", ["-c", withBuilders(withNixConfig(PROBE))], { env: env({ LAYERSTACK_NIX_BUILDERS_USE_SUBSTITUTES: "true" }), encoding: "utf8" });
        expect(r.stderr).toBe("");
        expect(r.status).toBe(0);
        const keyPath = read("keypath");
        expect(keyPath).toMatch(/^\/.+\/ssh-key$/);
        const lines = MACHINES.split("\n").map((l) => { const f = l.split(" "); f[2] = keyPath; return f.join(" "); });
        expect(read("nix_config")).toBe(`substituters =\nmax-jobs = 0\nbuilders = ${lines.join(" ; ")}\nbuilders-use-substitutes = true\nconnect-timeout = 5`);
        expect(read("key")).toBe(`${KEY}\n`);
        expect(read("mode").trim()).toBe("600");
        expect(read("dirmode").trim()).toBe("700");
        expect(fs.existsSync(path.dirname(keyPath))).toBe(false);
        // The stack's ssh options first, so the caller's cannot loosen them (ssh takes the first value).
        expect(read("sshopts")).toBe("-o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null -o UpdateHostKeys=no -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4 -p 2222 -o HostKeyAlias=b");
        // The key is in no environment Nix gets, and nothing was printed.
        expect(read("env")).not.toContain("b3BlbnNzaC1rZXktdjEAAAAAtest-only-not-a-key");
        expect(read("env")).not.toContain("LAYERSTACK_NIX_BUILDERS");
        expect(r.stdout).toBe("");
    });

    test("without use-substitutes, Nix's own setting stands; a failing command prints no key and leaves no file", () => {
        const r = spawnSync("/bin/sh", ["-c", withBuilders(withNixConfig(`${PROBE}\necho "nix failed" >&2; exit 3`))], { env: env({ NIX_CONFIG: "" }), encoding: "utf8" });
        expect(r.status).toBe(3);
        expect(r.stdout + r.stderr).toBe("nix failed\n");
        expect(read("nix_config")).not.toContain("builders-use-substitutes");
        expect(read("nix_config")).toMatch(/^substituters =\nmax-jobs = 0\nbuilders = \S+ /);
        expect(fs.existsSync(path.dirname(read("keypath")))).toBe(false);
    });

    test("the time limit (scriptStub) stops Nix and still removes the key file", () => {
        const t0 = Date.now();
        const r = spawnSync("/bin/sh", ["-c", scriptStub("layer-x-build")], { env: { ...env(), ...scriptEnv(withBuilders(withNixConfig(`${PROBE}\nsleep 60`)), 1) }, encoding: "utf8" });
        expect(Date.now() - t0).toBeLessThan(20_000);
        expect(r.status).toBe(124);
        expect(fs.existsSync(read("keypath"))).toBe(false);
        expect(fs.existsSync(path.dirname(read("keypath")))).toBe(false);
    });

    test("a TERM to the command's process group removes the key file too", async () => {
        const child = spawn("/bin/sh", ["-c", withBuilders(withNixConfig(`${PROBE}\nsleep 60`))], { env: env(), detached: true, stdio: "ignore" });
        const end = Date.now() + 10_000;
        while (!fs.existsSync(path.join(out, "key")) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
        const keyPath = read("keypath");
        expect(fs.existsSync(keyPath)).toBe(true);
        const code = new Promise<number | null>((resolve) => child.on("exit", (c, sig) => resolve(c ?? (sig ? 128 : null))));
        process.kill(-child.pid!, "SIGTERM");
        expect(await code).toBe(143);
        expect(fs.existsSync(path.dirname(keyPath))).toBe(false);
    });
});
