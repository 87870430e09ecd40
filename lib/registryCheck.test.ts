// The registry read-back's provider text (lib/registryCheck.ts) stands on its own: loaded the way
// the official dynamic provider loads `__provider` (a module compiled from the string, with
// Node's require and nothing of this program), its handler() is the provider, and it asks a
// real registry stand-in: present, missing, and one that cannot be reached.
import * as http from "http";
import Module = require("module");
import { AddressInfo } from "net";
import * as path from "path";
import * as vm from "vm";
import { registryImageProvider, registryImageProviderText } from "./registryCheck";

/** What require-from-string does (the official dynamic provider's loader): a fresh module from the text. */
function loadText(text: string): any {
    const filename = path.join(require("os").tmpdir(), "layerstack-provider-text.js");
    const m = new Module(filename) as any;
    m.filename = filename;
    m.paths = (Module as any)._nodeModulePaths(path.dirname(filename));
    // Outside jest's module registry: vm compiles the text as Node's loader wraps a module.
    const fn = vm.runInThisContext(Module.wrap(text), { filename });
    fn.call(m.exports, m.exports, (id: string) => Module.createRequire(filename)(id), m, filename, path.dirname(filename));
    return m.exports;
}

const DIGEST = `sha256:${"cd".repeat(32)}`;
let server: http.Server;
let registry: string;

beforeAll(async () => {
    server = http.createServer((req, res) => {
        if (req.method === "HEAD" && req.url === "/v2/owner/app/manifests/present") {
            res.writeHead(200, { "docker-content-digest": DIGEST }).end();
            return;
        }
        res.writeHead(404).end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    registry = `127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(() => server.close());

describe("the registry read-back's provider text", () => {
    const text = registryImageProviderText();
    const provider = loadText(text).handler();

    test("compiles as plain JavaScript (vm, no TypeScript loader) and is built once per run", () => {
        expect(Object.keys(provider).sort()).toEqual(Object.keys(registryImageProvider).sort());
        expect(registryImageProviderText()).toBe(text);
    });

    test("diff: present answers no change, missing asks for a replacement with the reason, identity replaces", async () => {
        const s = { registry, repository: "owner/app", tag: "present" };
        expect(await provider.diff("id", s, s)).toEqual({ changes: false });
        expect(await provider.diff("id", s, { ...s, tag: "gone" })).toEqual({ changes: true, replaces: ["tag"] });
        expect(await provider.diff("id", { ...s, tag: "gone" }, { ...s, tag: "gone" })).toEqual({ changes: true, replaces: ["inRegistry"] });
        expect(await provider.diff("id", s, { ...s, username: "bot", password: "x" })).toEqual({ changes: true });
    });

    test("read sets inRegistry from the registry; create asks nothing", async () => {
        const s = { registry, repository: "owner/app", tag: "present" };
        expect((await provider.read("id", s)).props.inRegistry).toBe(true);
        expect((await provider.read("id", { ...s, tag: "gone" })).props.inRegistry).toBe(false);
        const created = await provider.create({ ...s, registry: "127.0.0.1:1" });
        expect(created.outs.inRegistry).toBe(true);
        expect(created.id).toMatch(/^[0-9a-f-]{36}$/);
    });

    test("a registry that cannot be reached fails the check, naming it", async () => {
        const s = { registry: "127.0.0.1:1", repository: "owner/app", tag: "present" };
        await expect(provider.diff("id", s, s)).rejects.toThrow("registry 127.0.0.1:1 cannot be reached: ECONNREFUSED");
    });
});
