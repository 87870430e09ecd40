// The image-kind detection and the source it prepares, run with /bin/sh on real files: tars,
// gzip and zstd archives, OCI layouts, scripts, JSON, and skopeo reading the result.
import { execFileSync, spawnSync } from "child_process";
import * as crypto from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DETECT_IMAGE_KIND_SCRIPT, IMAGE_KIND, IMAGE_SOURCE, UNKNOWN_KIND_HINT } from "./image";

let dir: string;
beforeAll(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-kind-")); });
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sh(script: string, args: string[], env: NodeJS.ProcessEnv = {}) {
    const r = spawnSync("/bin/sh", ["-c", script, "sh", ...args], { encoding: "utf8", env: { ...process.env, ...env } });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
const kindOf = (p: string, env: NodeJS.ProcessEnv = {}) => {
    const r = sh(DETECT_IMAGE_KIND_SCRIPT, [p], env);
    if (r.code !== 0) throw new Error(`detect failed: ${r.stderr}`);
    return r.stdout.trim();
};

/** A directory with the given files (relative path -> content). */
function tree(name: string, files: Record<string, string>): string {
    const d = path.join(dir, name);
    for (const [f, content] of Object.entries(files)) {
        fs.mkdirSync(path.dirname(path.join(d, f)), { recursive: true });
        fs.writeFileSync(path.join(d, f), content);
    }
    fs.mkdirSync(d, { recursive: true });
    return d;
}
/** A tar of a directory's entries, optionally compressed (`gzip -n` or `zstd`). */
function tarOf(name: string, src: string, compress?: "gzip" | "zstd", dotSlash = false): string {
    const out = path.join(dir, name);
    const entries = dotSlash ? ["."] : fs.readdirSync(src);
    execFileSync("tar", ["-C", src, "-cf", out + ".tmp", ...entries]);
    if (compress === "gzip") execFileSync("sh", ["-c", `gzip -n < "$0" > "$1"`, out + ".tmp", out]);
    else if (compress === "zstd") execFileSync("sh", ["-c", `zstd -q -c < "$0" > "$1"`, out + ".tmp", out]);
    else fs.renameSync(out + ".tmp", out);
    fs.rmSync(out + ".tmp", { force: true });
    return out;
}
function file(name: string, content: string | Buffer, mode = 0o444): string {
    const p = path.join(dir, name);
    fs.writeFileSync(p, content, { mode });
    return p;
}

/** A real, tiny docker-archive: one layer, config and manifest.json, as dockerTools lays it out. */
function dockerArchiveDir(): string {
    const layerDir = tree("layer-src", { "etc/hello": "hello\n" });
    const layer = path.join(dir, "layer.tar");
    execFileSync("tar", ["-C", layerDir, "-cf", layer, "."]);
    const digest = crypto.createHash("sha256").update(fs.readFileSync(layer)).digest("hex");
    const config = JSON.stringify({ architecture: "amd64", os: "linux", config: {}, rootfs: { type: "layers", diff_ids: [`sha256:${digest}`] } });
    const cfg = crypto.createHash("sha256").update(config).digest("hex");
    const d = tree("docker-archive", {
        [`${digest}/layer.tar`]: fs.readFileSync(layer, "latin1"),
        [`${digest}/VERSION`]: "1.0",
        [`${cfg}.json`]: config,
        "manifest.json": JSON.stringify([{ RepoTags: ["t:latest"], Layers: [`${digest}/layer.tar`], Config: `${cfg}.json` }]),
        repositories: JSON.stringify({ t: { latest: digest } }),
    });
    // tree() wrote the layer as latin1 text; rewrite it as the exact bytes.
    fs.copyFileSync(layer, path.join(d, digest, "layer.tar"));
    return d;
}

describe("layerstack_image_kind: the kind is read from the content, never the name", () => {
    let archive: string;
    beforeAll(() => { archive = dockerArchiveDir(); });

    test("an OCI layout directory, also behind a symlink", () => {
        const oci = tree("oci", { "oci-layout": '{"imageLayoutVersion":"1.0.0"}', "index.json": '{"schemaVersion":2,"manifests":[]}', "blobs/sha256/x": "" });
        expect(kindOf(oci)).toBe("oci");
        fs.symlinkSync(oci, path.join(dir, "result"));
        expect(kindOf(path.join(dir, "result"))).toBe("oci");
    });

    test("docker-archives: plain tar, gzip and zstd, whatever the file is called", () => {
        expect(kindOf(tarOf("image.bin", archive))).toBe("docker-archive");
        expect(kindOf(tarOf("dot-slash.tar", archive, undefined, true))).toBe("docker-archive");
        expect(kindOf(tarOf("image.tar", archive, "gzip"))).toBe("docker-archive+gzip");
        expect(kindOf(tarOf("image.tar.gz.not", archive, "zstd"))).toBe("docker-archive+zstd");
    });

    test("an OCI archive (a tar of an OCI layout) is refused with a hint: skopeo would unpack all of it", () => {
        const oci = tree("oci-for-archive", { "oci-layout": "{}", "index.json": "{}", "blobs/sha256/y": "" });
        expect(kindOf(tarOf("oci.tar", oci))).toBe("unknown: a tar of an OCI layout (an oci-archive, which skopeo would unpack in full; make the output the layout directory itself)");
    });

    test("an executable script is a stream; nix2container's JSON is recognised", () => {
        expect(kindOf(file("stream-hello", "#! /bin/sh -e\nexec tar -cf - /dev/null\n", 0o555))).toBe("stream");
        expect(kindOf(file("image-hello.json", '{\n  "version": 1,\n  "image-config": {},\n  "layers": [],\n  "arch": "amd64"\n}\n'))).toBe("nix2container");
    });

    test("what is not an image is described exactly", () => {
        expect(kindOf(file("notes.txt", "not an image\n"))).toBe("unknown: a file of 13 bytes that starts with 6e 6f 74 20 61 6e 20 69 6d 61 67 65 0a");
        expect(kindOf(file("long.txt", "0123456789abcdefXYZ"))).toBe("unknown: a file of 19 bytes that starts with 30 31 32 33 34 35 36 37 38 39 61 62 63 64 65 66");
        expect(kindOf(file("empty", ""))).toBe("unknown: an empty file");
        expect(kindOf(file("script.sh", "#!/bin/sh\n"))).toBe("unknown: a script that is not executable");
        expect(kindOf(file("text.gz", execFileSync("gzip", ["-n"], { input: "hello\n" })))).toBe("unknown: gzip-compressed data that is not a tar archive");
        expect(kindOf(file("text.zst", execFileSync("zstd", ["-q", "-c"], { input: "hello\n" })))).toBe("unknown: zstd-compressed data that is not a tar archive");
        expect(kindOf(tarOf("other.tar", tree("other", { a: "1", b: "2" })))).toBe("unknown: a tar archive with neither manifest.json nor oci-layout (entries: a, b)");
        expect(kindOf(tree("many", Object.fromEntries("abcdefg".split("").map((c) => [c, c]))))).toBe("unknown: a directory without oci-layout and index.json (entries: a, b, c, d, e, ...)");
        fs.mkdirSync(path.join(dir, "nothing-inside"));
        expect(kindOf(path.join(dir, "nothing-inside"))).toBe("unknown: an empty directory");
        expect(kindOf(path.join(dir, "does-not-exist"))).toBe("unknown: nothing (the path does not exist)");
        execFileSync("mkfifo", [path.join(dir, "fifo")]);
        expect(kindOf(path.join(dir, "fifo"))).toBe("unknown: a special file");
    });

    test("a zstd archive with no zstd on PATH says so", () => {
        const bin = path.join(dir, "bin-without-zstd");
        fs.mkdirSync(bin);
        for (const t of ["sh", "od", "tr", "sed", "head", "tail", "stat", "ls", "awk", "gzip", "tar", "grep", "cat"]) {
            fs.symlinkSync(execFileSync("sh", ["-c", `command -v ${t}`], { encoding: "utf8" }).trim(), path.join(bin, t));
        }
        const zst = path.join(dir, "image.tar.gz.not");
        expect(kindOf(zst, { PATH: bin })).toBe("unknown: zstd-compressed data, and no zstd on PATH to read it");
    });
});

describe("IMAGE_KIND: overrides, copyTo, and the failure before any push", () => {
    const decide = (out: string, env: NodeJS.ProcessEnv) => sh(`set -eu\nout=$1\n${IMAGE_KIND}\necho "$kind"`, [out], { LAYERSTACK_LAYER: "layer07-pak5", ...env });

    test("an output of no known kind fails with the layer, the store path and what was found", () => {
        const p = file("0123456789abcdfghijklmnpqrsvwxyz-layer07-pak5", "not an image\n");
        const r = decide(p, {});
        expect(r.code).toBe(2);
        expect(r.stdout).toBe("");
        expect(r.stderr).toBe(`layer layer07-pak5: ${p} is no image layerstack can publish: it is a file of 13 bytes that starts with 6e 6f 74 20 61 6e 20 69 6d 61 67 65 0a. ${UNKNOWN_KIND_HINT}\n`);
        expect(UNKNOWN_KIND_HINT).toBe('Expected an OCI layout directory, a docker-archive (tar, gzip or zstd), an executable that streams one (dockerTools.streamLayeredImage) or a nix2container image with copyTo; "format" in layerstack:layers overrides the detection.');
    });

    test("nix2container's JSON without copyTo cannot be published, and says why", () => {
        const p = file("n2c.json", '{"version":1,"image-config":{},"layers":[]}');
        const r = decide(p, {});
        expect(r.code).toBe(2);
        expect(r.stderr).toBe(`layer layer07-pak5: ${p} is a nix2container image (JSON), but the flake attribute has no copyTo to publish it with\n`);
        expect(decide(p, { LAYERSTACK_COPY_TO_DRV: "/nix/store/x-copy-to.drv" }).stdout).toBe("copy-to\n");
    });

    test("format overrides the detection; docker-archive still finds its compression", () => {
        const gz = path.join(dir, "image.tar");
        expect(decide(gz, { LAYERSTACK_FORMAT: "docker-archive" }).stdout).toBe("docker-archive+gzip\n");
        expect(decide(file("odd", "odd"), { LAYERSTACK_FORMAT: "docker-archive" }).stdout).toBe("docker-archive\n");
        expect(decide(gz, { LAYERSTACK_FORMAT: "oci" }).stdout).toBe("oci\n");
        expect(decide(gz, { LAYERSTACK_FORMAT: "stream", LAYERSTACK_COPY_TO_DRV: "/nix/store/x.drv" }).stdout).toBe("stream\n");
        const bad = decide(gz, { LAYERSTACK_FORMAT: "tarball" });
        expect(bad.code).toBe(2);
        expect(bad.stderr).toBe("layer layer07-pak5: unknown format tarball (oci, docker-archive or stream)\n");
    });
});

describe("IMAGE_SOURCE: one uncompressed copy at most, already unlinked", () => {
    // Prepares the source, then reports it, what is left in $tmp, and the bytes skopeo will read.
    const prepare = (out: string) => {
        const tmp = fs.mkdtempSync(path.join(dir, "tmp-"));
        const r = sh(`set -eu\nout=$1 tmp=$2\n${IMAGE_KIND}\n${IMAGE_SOURCE}
echo "src=$src"
echo "left=$(ls -A "$tmp" | wc -l)"
if [ "$src" = docker-archive:/dev/fd/3 ]; then echo "sha=$(sha256sum < /dev/fd/3 | cut -d' ' -f1)"; skopeo inspect --raw "$src" > "$2.manifest"; fi`, [out, tmp], { LAYERSTACK_LAYER: "l" });
        if (r.code !== 0) throw new Error(r.stderr);
        return Object.fromEntries(r.stdout.trim().split("\n").map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]));
    };
    const sha = (p: string) => crypto.createHash("sha256").update(fs.readFileSync(p)).digest("hex");

    test("an OCI layout and a plain archive are read in place", () => {
        expect(prepare(path.join(dir, "oci")).src).toBe(`oci:${path.join(dir, "oci")}`);
        const plain = path.join(dir, "image.bin");
        expect(prepare(plain)).toEqual({ src: `docker-archive:${plain}`, left: "0" });
    });

    test("gzip and zstd are decompressed once into an unlinked file that skopeo reads as /dev/fd/3", () => {
        for (const name of ["image.tar", "image.tar.gz.not"]) {
            const r = prepare(path.join(dir, name));
            expect(r).toEqual({ src: "docker-archive:/dev/fd/3", left: "0", sha: sha(path.join(dir, "image.bin")) });
        }
        const manifests = fs.readdirSync(dir).filter((f) => f.endsWith(".manifest"));
        expect(manifests).toHaveLength(2);
        for (const m of manifests) expect(JSON.parse(fs.readFileSync(path.join(dir, m), "utf8")).layers).toHaveLength(1);
    });

    test("a stream is run once into such a file", () => {
        const stream = file("stream-image", `#!/bin/sh\nexec cat ${path.join(dir, "image.bin")}\n`, 0o555);
        expect(prepare(stream)).toEqual({ src: "docker-archive:/dev/fd/3", left: "0", sha: sha(path.join(dir, "image.bin")) });
    });
});
