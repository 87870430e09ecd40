// The Cachix scripts for real, under sh: the info call against a local HTTP server that, like a
// private cache, answers only with the token; the push with a stand-in `cachix` on PATH that
// records its argv and environment (cachix itself cannot be installed here).
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import * as http from "http";
import * as os from "os";
import * as path from "path";
import { CACHIX_INFO_SCRIPT, CACHIX_PUSH_SCRIPT, cacheNetrc, parseCachixInfo, withNetrc, withNixConfig } from "./cache";

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

describe("a private Cachix cache's netrc (WITH_NETRC): Nix substitutes only with it", () => {
    // A stand-in of a private cache's binary cache endpoint: like <name>.cachix.org, it answers only
    // basic auth whose password is the token (cachix's netrc has the token as password, NetRc.hs).
    let server: http.Server;
    let url = "";
    const seen: { path: string; status: number }[] = [];
    beforeAll(async () => {
        server = http.createServer((req, res) => {
            const m = /^Basic (.+)$/.exec(req.headers.authorization ?? "");
            const password = m ? Buffer.from(m[1], "base64").toString("utf8").replace(/^[^:]*:/, "") : undefined;
            const status = password === TOKEN ? (req.url === "/nix-cache-info" ? 200 : 404) : 401;
            seen.push({ path: req.url ?? "", status });
            if (status === 401) { res.writeHead(401, { "www-authenticate": 'Basic realm="cachix"' }).end(); return; }
            if (status === 404) { res.writeHead(404).end(); return; }
            res.writeHead(200, { "content-type": "text/x-nix-cache-info" }).end("StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 41\n");
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
        url = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
    });
    afterAll(() => server.close());

    // What a build or push does first: Nix opens the cache (its nix-cache-info), here through `nix store info`.
    const NIX = 'nix --extra-experimental-features nix-command store info --store "$CACHE_URL"';
    const env = (extra: NodeJS.ProcessEnv = {}) => ({ PATH: process.env.PATH, HOME: os.tmpdir(), CACHE_URL: url, LAYERSTACK_NIX_CONFIG: "connect-timeout = 5", ...extra });

    test("without the netrc the cache answers 401 and Nix gets nothing", async () => {
        const before = seen.length;
        const r = await runAsync(withNixConfig(NIX), env());
        expect(r.code).not.toBe(0);
        expect(r.stderr).toMatch(/HTTP error 401/);
        expect(seen.slice(before).map((q) => q.status)).toContain(401);
        expect(seen.slice(before).map((q) => q.status)).not.toContain(200);
    });

    test("with it, the same Nix call gets 200; the token is in no output, and the netrc file is gone afterwards", async () => {
        const before = seen.length;
        const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-netrc-"));
        const netrc = cacheNetrc(url, TOKEN);
        expect(netrc).toBe(`machine 127.0.0.1 password ${TOKEN}`);
        const r = await runAsync(withNetrc(withNixConfig(NIX)), env({ LAYERSTACK_NIX_NETRC: netrc, TMPDIR: tmp }));
        expect(r.stderr).not.toMatch(/HTTP error 401/);
        expect(r.code).toBe(0);
        expect(seen.slice(before).some((q) => q.path === "/nix-cache-info" && q.status === 200)).toBe(true);
        expect(r.stdout + r.stderr).not.toContain(TOKEN);
        expect(fs.readdirSync(tmp)).toEqual([]);
        fs.rmSync(tmp, { recursive: true, force: true });
    });

    test("the stack writes a netrc only for a cache Cachix says is private", () => {
        expect(parseCachixInfo(JSON.stringify({ uri: "https://p.cachix.org", publicSigningKeys: ["p.cachix.org-1:AAAA"], isPublic: false }), "p").isPublic).toBe(false);
        expect(parseCachixInfo(JSON.stringify({ uri: "https://p.cachix.org", publicSigningKeys: ["p.cachix.org-1:AAAA"] }), "p").isPublic).toBeUndefined();
        expect(() => cacheNetrc("https://p.cachix.org", "a token with spaces")).toThrow("cannot write a netrc");
    });
});
