// The Cachix scripts for real, under sh: the info call against a local HTTP server that, like a
// private cache, answers only with the token; the push with a stand-in `cachix` on PATH that
// records its argv and environment (cachix itself cannot be installed here).
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { CACHIX_INFO_SCRIPT, CACHIX_PUSH_SCRIPT } from "./cache";

const TOKEN = "cachix-token-sentinel-8c1f";
const SIGNING = "cachix-signing-sentinel-77aa";

function runAsync(script: string, env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
        const c = spawn("/bin/sh", ["-c", script], { env });
        let stdout = "", stderr = "";
        c.stdout.on("data", (d) => (stdout += d));
        c.stderr.on("data", (d) => (stderr += d));
        c.on("close", (code) => resolve({ code: code ?? -1, stdout, stderr }));
    });
}

describe("Cachix info", () => {
    let server: http.Server;
    let url = "";
    const seen: (string | undefined)[] = [];
    beforeAll(async () => {
        server = http.createServer((req, res) => {
            seen.push(req.headers.authorization);
            if (req.url !== "/api/v1/cache/private-cache") { res.writeHead(404).end(); return; }
            if (req.headers.authorization !== `Bearer ${TOKEN}`) { res.writeHead(401).end("{}"); return; }
            res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ uri: "https://private-cache.cachix.org", publicSigningKeys: ["private-cache.cachix.org-1:AAAA"] }));
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        url = `http://127.0.0.1:${(server.address() as { port: number }).port}/api/v1`;
    });
    afterAll(() => server.close());

    test("a private cache answers with the token, sent as a Bearer header and never in argv or output", async () => {
        const r = await runAsync(CACHIX_INFO_SCRIPT, { PATH: process.env.PATH, LAYERSTACK_CACHIX_API_URL: url, LAYERSTACK_CACHIX_CACHE: "private-cache", CACHIX_AUTH_TOKEN: TOKEN });
        expect(r.code).toBe(0);
        expect(JSON.parse(r.stdout).uri).toBe("https://private-cache.cachix.org");
        expect(seen).toContain(`Bearer ${TOKEN}`);
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
    });

    test("without the token it fails naming the cache and the key, and says no more", async () => {
        const r = await runAsync(CACHIX_INFO_SCRIPT, { PATH: process.env.PATH, LAYERSTACK_CACHIX_API_URL: url, LAYERSTACK_CACHIX_CACHE: "private-cache" });
        expect(r.code).toBe(22);
        expect(r.stderr).toContain(`binary cache: reading Cachix cache private-cache from ${url} failed (curl exit 22): does the cache exist, and for a private cache, is layerstack:cachixAuthToken valid for it?`);
    });
});

describe("Cachix push", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-cachix-"));
    const bin = path.join(dir, "bin");
    const log = path.join(dir, "calls");
    fs.mkdirSync(bin);
    // nix-store: prints an output path; cachix: records argv and the two variables it reads.
    fs.writeFileSync(path.join(bin, "nix-store"), `#!/bin/sh\necho /nix/store/0123456789abcdfghijklmnpqrsvwxyz-layer01\n`, { mode: 0o755 });
    fs.writeFileSync(path.join(bin, "cachix"), `#!/bin/sh\n{ echo "argv: $*"; echo "token: \${CACHIX_AUTH_TOKEN:-unset}"; echo "signing: \${CACHIX_SIGNING_KEY-unset}"; } > "${log}"\n`, { mode: 0o755 });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
    const env = (extra: Record<string, string>) => ({ PATH: `${bin}:/usr/bin:/bin`, LAYERSTACK_DRV_PATH: "/nix/store/x.drv", LAYERSTACK_LAYER: "layer01", LAYERSTACK_CACHIX_CACHE: "megapak", ...extra });

    test("cachix gets the token and the signing key from its environment, never in argv", () => {
        const r = spawnSync("/bin/sh", ["-c", CACHIX_PUSH_SCRIPT], { env: env({ CACHIX_AUTH_TOKEN: TOKEN, CACHIX_SIGNING_KEY: SIGNING }), encoding: "utf8" });
        expect(r.status).toBe(0);
        expect(fs.readFileSync(log, "utf8")).toBe(`argv: push megapak /nix/store/0123456789abcdfghijklmnpqrsvwxyz-layer01\ntoken: ${TOKEN}\nsigning: ${SIGNING}\n`);
        expect(r.stdout + r.stderr).not.toMatch(new RegExp(`${TOKEN}|${SIGNING}`));
    });

    test("an empty signing key is not passed on (Cachix signs)", () => {
        spawnSync("/bin/sh", ["-c", CACHIX_PUSH_SCRIPT], { env: env({ CACHIX_AUTH_TOKEN: TOKEN, CACHIX_SIGNING_KEY: "" }), encoding: "utf8" });
        expect(fs.readFileSync(log, "utf8")).toContain("signing: unset\n");
    });

    test("without the cachix CLI it fails naming the layer, the cache and how to install it", () => {
        const r = spawnSync("/bin/sh", ["-c", CACHIX_PUSH_SCRIPT], { env: { ...env({ CACHIX_AUTH_TOKEN: TOKEN }), PATH: "/usr/bin:/bin" }, encoding: "utf8" });
        expect(r.status).toBe(127);
        expect(r.stderr).toBe("binary cache: the cachix CLI is not on PATH, so layer layer01 cannot be pushed to Cachix cache megapak (CI: cachix/cachix-action installs it; elsewhere: nix profile install nixpkgs#cachix)\n");
    });
});
