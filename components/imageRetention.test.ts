// Retention's plan (pure) and its ghcr.io path, against a stand-in of the few GitHub REST
// endpoints it uses (GitHub's API cannot be reached from here). The distribution-API path runs
// for real in test/e2e/retention.test.ts.
import * as http from "http";
import { AddressInfo } from "net";
import { planRetention, retentionProvider, RetentionState } from "./imageRetention";

const h = (c: string) => c.repeat(32);
const T = (c: string) => `cu130-${h(c)}`;
const D = (c: string) => `sha256:${c.repeat(64)}`;

describe("planRetention: cosign's attachments", () => {
    const sig = (c: string, k: string) => `sha256-${c.repeat(64)}.${k}`;
    test("the .sig, .att and .sbom tags of exactly the digests it deletes, none of a kept one's", () => {
        const tags = new Map([
            [T("a"), D("1")], [T("b"), D("2")],
            [sig("1", "sig"), D("7")], [sig("1", "att"), D("8")], [sig("1", "sbom"), D("6")],
            [sig("2", "sig"), D("9")], [sig("2", "att"), D("5")],
        ]);
        const p = planRetention({ tags, variant: "cu130", history: [T("a"), T("b")], keep: 1, protect: [D("2")] });
        expect(p.deleteDigests).toEqual([D("1")]);
        expect(p.deleteAttachments).toEqual([sig("1", "sig"), sig("1", "att"), sig("1", "sbom")]);
        // cosign's tags are never taken for the stack's own.
        expect(p.history).toEqual([T("b")]);
    });
    test("an unsigned image has nothing else to delete; deleteOnDestroy takes every attachment of the stack's digests", () => {
        const tags = new Map([[T("a"), D("1")], [T("b"), D("2")], [sig("2", "sig"), D("9")], [sig("3", "sig"), D("4")]]);
        expect(planRetention({ tags, variant: "cu130", history: [T("a"), T("b")], keep: 1, protect: [D("2")] }).deleteAttachments).toEqual([]);
        expect(planRetention({ tags, variant: "cu130", history: [T("a"), T("b")], keep: 1, protect: [], all: true }).deleteAttachments).toEqual([sig("2", "sig")]);
    });
});

describe("planRetention", () => {
    const tags = new Map([
        [T("a"), D("1")], [T("b"), D("2")], [T("c"), D("3")], [T("d"), D("4")],
        ["cu130-latest", D("3")], ["other-tag", D("9")], [`dev-${h("e")}`, D("5")],
    ]);

    test("keeps the newest `keep` of this variant's immutable tags, by the stack's own history", () => {
        const p = planRetention({ tags, variant: "cu130", history: [T("b"), T("a"), T("d")], keep: 2, protect: [D("4")] });
        // c is unknown to the history: oldest. Order: c, b, a, d; keep a, d. c's digest is the moving tag's: kept.
        expect(p.retire).toEqual([T("b")]);
        expect(p.deleteDigests).toEqual([D("2")]);
        expect(p.history).toEqual([T("c"), T("a"), T("d")]);
    });

    test("never deletes a digest a kept tag or a stack output references", () => {
        const shared = new Map([[T("a"), D("1")], [T("b"), D("1")], [T("c"), D("2")]]);
        const p = planRetention({ tags: shared, variant: "cu130", history: [T("a"), T("b"), T("c")], keep: 1, protect: [D("2")] });
        expect(p.deleteDigests).toEqual([D("1")]);
        expect(p.retire).toEqual([T("a"), T("b")]);
        const q = planRetention({ tags: shared, variant: "cu130", history: [T("a"), T("b"), T("c")], keep: 1, protect: [D("2"), D("1")] });
        expect(q.deleteDigests).toEqual([]);
        expect(q.retire).toEqual([]);
    });

    test("in one repository (the single layout), a layer's tags are only those ending in its id, whatever dashes the ids hold", () => {
        // Layers "pak" and "x-pak" (and the variant "cu130-x", another stack's) share the repository.
        const one = new Map([
            [`cu130-${h("a")}-pak`, D("1")], [`cu130-${h("b")}-pak`, D("2")], [`cu130-${h("c")}-x-pak`, D("3")],
            [`cu130-x-${h("d")}-pak`, D("4")], ["cu130-latest-pak", D("2")], ["cu130-latest-x-pak", D("3")],
        ]);
        const p = planRetention({ tags: one, variant: "cu130", tagSuffix: "-pak", history: [`cu130-${h("a")}-pak`, `cu130-${h("b")}-pak`], keep: 1, protect: [D("2")] });
        expect(p.retire).toEqual([`cu130-${h("a")}-pak`]);
        expect(p.deleteDigests).toEqual([D("1")]);
        // deleteOnDestroy: every tag of this layer and variant, and its own moving tag; nothing of x-pak's or cu130-x's.
        const all = planRetention({ tags: one, variant: "cu130", tagSuffix: "-pak", history: [], keep: 0, protect: [], all: true });
        expect(all.retire).toEqual([`cu130-${h("a")}-pak`, `cu130-${h("b")}-pak`, "cu130-latest-pak"]);
        expect(all.deleteDigests).toEqual([D("1"), D("2")]);
    });

    test("keep 0 keeps everything; other variants' and foreign tags are never touched", () => {
        expect(planRetention({ tags, variant: "cu130", history: [], keep: 0, protect: [] }).deleteDigests).toEqual([]);
        const p = planRetention({ tags, variant: "dev", history: [], keep: 1, protect: [] });
        expect(p.retire).toEqual([]);
    });

    test("at destroy, every immutable tag of the variant and its moving tag go, unless another tag shares the digest", () => {
        const p = planRetention({ tags, variant: "cu130", history: [T("d")], keep: 1, protect: [D("4")], all: true });
        expect(p.retire.sort()).toEqual([T("a"), T("b"), T("c"), T("d"), "cu130-latest"].sort());
        expect(p.deleteDigests.sort()).toEqual([D("1"), D("2"), D("3"), D("4")]);
        expect(p.history).toEqual([]);
    });
});

describe("ghcr.io: GitHub's packages API", () => {
    let server: http.Server;
    let api: string;
    const calls: string[] = [];
    const TOKEN = "ghp_retention-sentinel-2718";
    let versions: { id: number; name: string; metadata: { container: { tags: string[] } } }[];

    beforeAll(async () => {
        server = http.createServer((req, res) => {
            calls.push(`${req.method} ${req.url}`);
            if (req.headers.authorization !== `Bearer ${TOKEN}`) { res.writeHead(401).end(); return; }
            // The package is an organization's: /users/... answers 404, as GitHub does for the wrong owner kind.
            const m = /^\/orgs\/acme\/packages\/container\/megapak%2Flayer02\/versions(?:\/(\d+))?(\?.*)?$/.exec(req.url ?? "");
            if (!m) { res.writeHead(404).end("{}"); return; }
            if (req.method === "GET") { res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(versions)); return; }
            if (req.method === "DELETE") { versions = versions.filter((v) => v.id !== Number(m[1])); res.writeHead(204).end(); return; }
            res.writeHead(405).end();
        });
        await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
        api = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    afterAll(() => server.close());

    const state = (over: Partial<RetentionState> = {}): RetentionState => ({
        registry: "ghcr.io", repository: "acme/megapak/layer02", variant: "cu130", keep: 1, deleteOnDestroy: true,
        tag: T("c"), digest: D("3"), protect: [], username: "acme-bot", password: TOKEN, githubApiUrl: api, ...over,
    });

    test("an update retires the older versions by id; the current and the moving tag's stay", async () => {
        versions = [
            { id: 11, name: D("1"), metadata: { container: { tags: [T("a")] } } },
            { id: 12, name: D("2"), metadata: { container: { tags: [T("b"), "cu130-latest"] } } },
            { id: 13, name: D("3"), metadata: { container: { tags: [T("c")] } } },
        ];
        calls.length = 0;
        const olds = { ...state({ tag: T("b"), digest: D("2") }), history: [T("a"), T("b")] };
        const r = await retentionProvider.update!("x", olds, state({ protect: [D("2")] }));
        expect(calls).toEqual([
            "GET /orgs/acme/packages/container/megapak%2Flayer02/versions?per_page=100&page=1",
            "DELETE /orgs/acme/packages/container/megapak%2Flayer02/versions/11",
        ]);
        expect(versions.map((v) => v.id)).toEqual([12, 13]);
        expect(r.outs.retired).toEqual([T("a")]);
        expect(r.outs.history).toEqual([T("b"), T("c")]);
    });

    test("at destroy, with deleteOnDestroy, the stack's versions are deleted", async () => {
        calls.length = 0;
        await retentionProvider.delete!("x", { ...state(), history: [T("b"), T("c")] });
        expect(versions).toEqual([]);
        expect(calls.filter((c) => c.startsWith("DELETE")).sort()).toEqual([
            "DELETE /orgs/acme/packages/container/megapak%2Flayer02/versions/12",
            "DELETE /orgs/acme/packages/container/megapak%2Flayer02/versions/13",
        ]);
    });

    test("without deleteOnDestroy, destroy asks nothing", async () => {
        calls.length = 0;
        await retentionProvider.delete!("x", state({ deleteOnDestroy: false }));
        expect(calls).toEqual([]);
    });

    test("a refused token fails with the status, never the token", async () => {
        versions = [];
        const err = await retentionProvider.update!("x", { ...state(), history: [] }, state({ password: "wrong-token-sentinel" })).catch((e: Error) => e);
        expect((err as Error).message).toBe("GitHub API: listing the versions of package megapak/layer02 of acme answered HTTP 401");
        expect((err as Error).message).not.toContain("wrong-token-sentinel");
    });
});
