// Issue 9: flakes as people write them. No layer declares a format; the push finds each
// image's kind in the built output (real Nix, skopeo, registry and Pulumi engine).
import { execFileSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as path from "path";
import { DEV_NIX_CONFIG, TestProject, TestRegistry, inspect, must } from "../support/stack";
import { DETECT_IMAGE_KIND_SCRIPT, UNKNOWN_KIND_HINT } from "../../lib/commands/image";
import { megapakLayers } from "../../layers/megapak";

const registry = new TestRegistry(5600);
const projects: TestProject[] = [];
beforeAll(() => registry.start());
afterAll(() => {
    registry.dispose();
    for (const p of projects) p.dispose();
});

/** Each project's commands make their temporary directories here (TMPDIR), so a test can see what is left. */
const tmpdirOf = (p: TestProject) => path.join(p.dir, "tmp");

function project(stack: string, repository: string, edit?: (layers: any[]) => void,
    opts: { registry?: TestRegistry; config?: Record<string, string | object>; secrets?: Record<string, string> } = {}): TestProject {
    const p = new TestProject(stack, { shims: true });
    projects.push(p);
    fs.mkdirSync(tmpdirOf(p));
    p.env.TMPDIR = tmpdirOf(p);
    if (edit) {
        const file = path.join(p.flakeDir, "layers.json");
        const spec = JSON.parse(fs.readFileSync(file, "utf8"));
        edit(spec.layers);
        fs.writeFileSync(file, JSON.stringify(spec, null, 2));
    }
    p.init({
        "layerstack:flake": `path:${p.flakeDir}`, "layerstack:registry": (opts.registry ?? registry).address, "layerstack:repository": repository,
        "layerstack:nixConfig": DEV_NIX_CONFIG, ...opts.config,
    }, opts.secrets);
    return p;
}

/** The kind the push's own detection finds in a built output. */
const kindOf = (out: string) => execFileSync("/bin/sh", ["-c", DETECT_IMAGE_KIND_SCRIPT, "sh", out], { encoding: "utf8" }).trim();

/** Each published layer: its digest resolves, its tag points at it, and it is its parent's layers plus one. */
function expectPublished(p: TestProject, layers: Record<string, any>, repository: string): void {
    for (const [id, l] of Object.entries<any>(layers)) {
        expect(l.imageRef).toBe(`${registry.address}/${repository}/${id}@${l.digest}`);
        const byDigest = inspect(l.imageRef);
        expect(byDigest.Digest).toBe(l.digest);
        expect(inspect(`${registry.address}/${repository}/${id}:${l.tag}`).Digest).toBe(l.digest);
        const blobs: string[] = byDigest.Layers;
        if (l.parent) {
            const parentBlobs: string[] = inspect(layers[l.parent].imageRef).Layers;
            expect(blobs).toHaveLength(parentBlobs.length + 1);
            expect(blobs.slice(0, -1)).toEqual(parentBlobs);
        } else {
            expect(blobs).toHaveLength(1);
        }
    }
    // The configuration names no format anywhere.
    expect(fs.readFileSync(path.join(p.dir, `Pulumi.${p.stack}.yaml`), "utf8")).not.toMatch(/format/);
}

describe("gzipped dockerTools-style archives with one stream among them", () => {
    const repo = "layerstack/gz";
    let p: TestProject;
    let first: Record<string, any>;
    beforeAll(() => {
        p = project("gz", repo, (layers) => {
            for (const l of layers) l.kind = l.attr === "layer12-comfyui" ? "stream" : "docker-archive-gz";
        });
    });

    test("publishes with no format anywhere: every digest resolves, every image is its parent's layers plus one", () => {
        must(p.up(), "pulumi up");
        first = p.outputs().layers;
        expect(Object.keys(first)).toHaveLength(12);
        for (const [id, l] of Object.entries<any>(first)) {
            expect(kindOf(l.outPath)).toBe(id === "layer12-comfyui" ? "stream" : "docker-archive+gzip");
            // Read by content: the store path is not named like an archive.
            expect(l.outPath).not.toMatch(/\.(tar|gz)$/);
            expect(fs.readFileSync(l.outPath).subarray(0, 2).toString("hex")).toBe(id === "layer12-comfyui" ? "2321" : "1f8b");
        }
        expectPublished(p, first, repo);
    });

    test("the pushes left no temporary directory behind (no decompressed copy, no auth file)", () => {
        expect(fs.readdirSync(tmpdirOf(p)).filter((n) => n.startsWith("tmp."))).toEqual([]);
    });

    test("a second up changes nothing", () => {
        const before = p.argvCount();
        must(p.up(["--expect-no-changes"]), "up --expect-no-changes");
        expect(p.argv(before).filter((a) => a[0] === "skopeo" || a[0] === "nix-store")).toEqual([]);
        expect(p.outputs().layers).toEqual(first);
    });

    test("a layer whose output is no image fails before its push, naming the layer, the store path and what was found", () => {
        p.editFixtureLayer("layer02-python-tools", { kind: "none" });
        const out = execFileSync("nix", ["eval", "--raw", `path:${p.flakeDir}#packages.x86_64-linux.layer02-python-tools.outPath`], { encoding: "utf8", env: p.nixEnv });
        const before = p.argvCount();
        const logFrom = registry.accessLogLines();
        const r = p.up();
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(
            `layer layer02-python-tools: ${out} is no image layerstack can publish: it is a file of 13 bytes that starts with 6e 6f 74 20 61 6e 20 69 6d 61 67 65 0a. ${UNKNOWN_KIND_HINT}`);
        // Built, then refused: no skopeo ran for it (no login, no copy), nothing reached the registry.
        expect(fs.readFileSync(out, "utf8")).toBe("not an image\n");
        expect(p.argv(before).filter((a) => a[0] === "skopeo")).toEqual([]);
        expect(registry.accessLog().split("\n").slice(logFrom).filter((l) => / (PUT|POST|PATCH) /.test(l))).toEqual([]);
    });
});

describe("the dev fixture: every kind in one chain", () => {
    const repo = "layerstack/kinds";
    const KINDS: Record<string, string> = {
        "layer01-base-cuda": "docker-archive+gzip",
        "layer02-python-tools": "docker-archive+gzip",
        "layer03-gcc15": "docker-archive",
        "layer04-pytorch": "oci",
        "layer05-pak3": "docker-archive+gzip",
        "layer06-cupy": "docker-archive+zstd",
        "layer07-pak5": "docker-archive+gzip",
        "layer08-pak7": "docker-archive+gzip",
        "layer09-sam": "nix2container",
        "layer10-performance": "docker-archive+gzip",
        "layer11-app": "docker-archive+gzip",
        "layer12-comfyui": "stream",
    };
    // The catalog's 12 layers in the real flake's chain; the fixture's layer09 is its
    // nix2container layer, between 08 and 10. No format anywhere.
    const N2C = "layer09-sam";
    let p: TestProject;
    let first: Record<string, any>;
    beforeAll(() => {
        p = project("kinds", repo);
        p.setConfig("layerstack:layers", megapakLayers().map((l) => ({ id: l.id, attr: l.attr, ...(l.parent ? { parent: l.parent } : {}) })));
        expect(megapakLayers().find((l) => l.id === "layer10-performance")!.parent).toBe(N2C);
    });

    test("each layer publishes from its own kind, the nix2container one through its own copyTo", () => {
        const before = p.argvCount();
        must(p.up(), "pulumi up");
        first = p.outputs().layers;
        expect(Object.fromEntries(Object.entries<any>(first).map(([id, l]) => [id, kindOf(l.outPath)]))).toEqual(KINDS);
        expectPublished(p, first, repo);

        // layerstack's own skopeo copies to the registry: one per layer, except the nix2container
        // layer. (The smoke checks copy each image out again, to oci: directories.)
        const skopeo = p.argv(before).filter((a) => a[0] === "skopeo");
        const dest = (id: string) => `docker://${registry.address}/${repo}/${id}:${first[id].tag}`;
        const ours = skopeo.filter((a) => a[1] === "copy" && a[a.length - 1].startsWith("docker://"));
        expect(ours.map((a) => a[a.length - 1]).sort()).toEqual(Object.keys(KINDS).filter((id) => id !== N2C).map(dest).sort());
        // The copyTo program ran (its skopeo: `--insecure-policy copy`, as nix2container's), with
        // the push's flags and the destination, and the digest was read back from the registry.
        const n2c = JSON.parse(fs.readFileSync(first[N2C].outPath, "utf8"));
        expect(skopeo.filter((a) => a[1] === "--insecure-policy")).toEqual([
            ["skopeo", "--insecure-policy", "copy", `oci:${n2c["layerstack-fixture-oci"]}`, "--quiet", "--retry-times", "2", "--dest-tls-verify=false", dest(N2C)],
        ]);
        expect(skopeo).toContainEqual(["skopeo", "inspect", "--tls-verify=false", "--format", "{{.Digest}}", dest(N2C)]);
        expect(inspect(first[N2C].imageRef).Digest).toBe(first[N2C].digest);
    });

    test("a second up changes nothing, for every kind", () => {
        const before = p.argvCount();
        must(p.up(["--expect-no-changes"]), "up --expect-no-changes");
        expect(p.argv(before).filter((a) => a[0] === "skopeo" || a[0] === "nix-store")).toEqual([]);
        expect(p.outputs().layers).toEqual(first);
    });

    test("when the root layer changes, every kind rebuilds and uploads only the new blobs", () => {
        p.editFixtureLayer("layer01-base-cuda", { content: "bash coreutils findutils; CUDA 13.0; one more tool" });
        const before = p.argvCount();
        const logFrom = registry.accessLogLines();
        must(p.up(), "pulumi up after the root changed");
        const after = p.outputs().layers;
        // Realised: every layer's image, and the nix2container layer's own copyTo program.
        const copyTo = p.argv(before).filter((a) => a[0] === "nix-store").map((a) => a[a.length - 1]).filter((d) => d.endsWith("-copy-to.drv"));
        expect(copyTo).toHaveLength(1);
        const realised = new Set(p.argv(before).filter((a) => a[0] === "nix-store").map((a) => a[a.length - 1]));
        expect([...realised].sort()).toEqual([...Object.values<any>(after).map((l) => l.drvPath), copyTo[0]].sort());
        expectPublished(p, after, repo);
        // Uploaded: the root's new blob and each image's new config, nothing the registry had.
        const uploaded = registry.uploadedBlobs(logFrom);
        const oldBlobs = new Set(Object.values<any>(first).flatMap((l) => inspect(l.imageRef).Layers as string[]));
        const newRoot = inspect(after["layer01-base-cuda"].imageRef).Layers[0];
        const configs = Object.values<any>(after).map((l) => inspect(l.imageRef, true).config.digest);
        expect(uploaded.filter((d) => oldBlobs.has(d))).toEqual([]);
        expect(new Set(uploaded)).toEqual(new Set([newRoot, ...configs]));
        expect(registry.uploadedBytes(logFrom)).toBe([newRoot, ...configs].reduce((n, d) => n + registry.blobSize(d), 0));
        for (const [id, l] of Object.entries<any>(after)) {
            expect(l.digest).not.toBe(first[id].digest);
            // Every image but the root kept its own blob: only the root's changed beneath it.
            if (id !== "layer01-base-cuda") expect(inspect(l.imageRef).Layers.slice(1)).toEqual(inspect(first[id].imageRef).Layers.slice(1));
        }
    });
});

describe("a nix2container image through a password-protected registry", () => {
    const USER = "layerstack-ci";
    const PASSWORD = `n2c-${crypto.randomBytes(12).toString("hex")}`;
    const authDir = fs.mkdtempSync("/tmp/layerstack-htpasswd-");
    const authRegistry = new TestRegistry(5601, { htpasswd: path.join(authDir, "htpasswd") });
    const repo = "layerstack/auth";
    let p: TestProject;
    beforeAll(() => {
        // -i: the password on stdin, not in htpasswd's argv.
        fs.writeFileSync(path.join(authDir, "htpasswd"), execFileSync("htpasswd", ["-iBn", USER], { input: PASSWORD, encoding: "utf8" }));
        authRegistry.start();
        p = project("n2cauth", repo, undefined, {
            registry: authRegistry,
            config: { "layerstack:registryUsername": USER, "layerstack:layers": [{ id: "base", attr: "layer08-pak7" }, { id: "sam", attr: "layer09-sam", parent: "base" }] },
            secrets: { "layerstack:registryPassword": PASSWORD },
        });
    });
    afterAll(() => {
        authRegistry.dispose();
        fs.rmSync(authDir, { recursive: true, force: true });
    });

    test("its copyTo gets the credentials only as REGISTRY_AUTH_FILE, publishes, and the digest is the registry's", () => {
        must(p.up(), "pulumi up");
        const layers = p.outputs().layers;
        const dest = `docker://${authRegistry.address}/${repo}/sam:${layers.sam.tag}`;
        const skopeo = p.argv(0).filter((a) => a[0] === "skopeo");
        // The copyTo program's skopeo ran, for this layer only, with no credentials in its argv.
        expect(skopeo.filter((a) => a[1] === "--insecure-policy").map((a) => a[a.length - 1])).toEqual([dest]);
        for (const a of skopeo) {
            expect(a.join(" ")).not.toContain(PASSWORD);
            expect(a.filter((x) => /creds|password|authfile/.test(x) && x !== "--password-stdin" && x !== "--authfile")).toEqual([]);
        }
        // The registry's own storage: the tag points at the digest the stack exports.
        const tagLink = path.join(authRegistry.dataDir(), "docker/registry/v2/repositories", repo, "sam/_manifests/tags", layers.sam.tag, "current/link");
        expect(fs.readFileSync(tagLink, "utf8")).toBe(layers.sam.digest);
        expect(layers.sam.imageRef).toBe(`${authRegistry.address}/${repo}/sam@${layers.sam.digest}`);
        // No private directory (and no auth file) is left behind.
        expect(fs.readdirSync(tmpdirOf(p)).filter((n) => n.startsWith("tmp."))).toEqual([]);
        expect(p.filesContaining(PASSWORD, tmpdirOf(p))).toEqual([]);
        expect(p.filesContaining(Buffer.from(`${USER}:${PASSWORD}`).toString("base64"), tmpdirOf(p))).toEqual([]);
    });
});
