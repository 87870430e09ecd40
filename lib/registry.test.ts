// The registry client against a stand-in registry that authenticates like ghcr.io and Docker
// Hub do (a Bearer challenge answered by a token service), and against nothing at all.
// Basic auth (htpasswd) runs for real in test/e2e/secrets.test.ts.
import * as http from "http";
import { AddressInfo } from "net";
import { RegistryClient, parseChallenge } from "./registry";

const USER = "bot";
const PASSWORD = "registry-sentinel-1618";
const DIGEST = `sha256:${"ab".repeat(32)}`;
let server: http.Server;
let port: number;
const seen: string[] = [];

beforeAll(async () => {
    server = http.createServer((req, res) => {
        const url = new URL(req.url!, "http://x");
        seen.push(`${req.method} ${url.pathname}${url.search} ${req.headers.authorization?.split(" ")[0] ?? "-"}`);
        if (url.pathname === "/token") {
            const ok = req.headers.authorization === `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString("base64")}`;
            if (!ok || url.searchParams.get("service") !== "stand-in") { res.writeHead(401).end(); return; }
            res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({ token: `t:${url.searchParams.get("scope")}` }));
            return;
        }
        const m = /^\/v2\/(.+)\/manifests\/(.+)$/.exec(url.pathname);
        if (req.headers.authorization !== `Bearer t:repository:${m?.[1]}:pull`) {
            res.writeHead(401, { "www-authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="stand-in",scope="repository:${m?.[1]}:pull"` }).end();
            return;
        }
        if (!(req.headers.accept ?? "").includes("application/vnd.oci.image.manifest.v1+json")) { res.writeHead(404).end(); return; }
        if (m![2] === "present") res.writeHead(200, { "docker-content-digest": DIGEST }).end();
        else res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
});
afterAll(() => server.close());

test("a Bearer challenge is answered with a token for the repository's scope, fetched with the stack's credentials", async () => {
    const c = new RegistryClient({ registry: `127.0.0.1:${port}`, username: USER, password: PASSWORD });
    seen.length = 0;
    expect(await c.headManifest("owner/megapak/base", "present")).toBe(DIGEST);
    expect(await c.headManifest("owner/megapak/base", "gone")).toBeNull();
    expect(seen).toEqual([
        "HEAD /v2/owner/megapak/base/manifests/present -",
        "GET /token?scope=repository%3Aowner%2Fmegapak%2Fbase%3Apull&service=stand-in Basic",
        "HEAD /v2/owner/megapak/base/manifests/present Bearer",
        // The token is reused for the same repository and actions.
        "HEAD /v2/owner/megapak/base/manifests/gone Bearer",
    ]);
});

test("refused credentials fail naming the registry, never the password", async () => {
    const c = new RegistryClient({ registry: `127.0.0.1:${port}`, username: USER, password: "wrong-sentinel" });
    const err = await c.headManifest("owner/megapak/base", "present").catch((e: Error) => e);
    expect((err as Error).message).toBe(`registry 127.0.0.1:${port}: its token service refused the stack's credentials for owner/megapak/base (HTTP 401)`);
    expect(JSON.stringify(err)).not.toContain("wrong-sentinel");
});

test("an unreachable registry fails naming it; it is never 'present'", async () => {
    const c = new RegistryClient({ registry: "127.0.0.1:9", timeoutMs: 2000 });
    await expect(c.headManifest("a/b", "t")).rejects.toThrow("registry 127.0.0.1:9 cannot be reached: ECONNREFUSED");
});

test("challenges are parsed by their quoted parameters", () => {
    expect(parseChallenge('Bearer realm="https://ghcr.io/token",service="ghcr.io",scope="repository:o/r:pull"')).toEqual({
        scheme: "bearer", params: { realm: "https://ghcr.io/token", service: "ghcr.io", scope: "repository:o/r:pull" },
    });
    expect(parseChallenge('Basic realm="layerstack"')).toEqual({ scheme: "basic", params: { realm: "layerstack" } });
});
