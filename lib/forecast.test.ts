// The forecast's parts: printMissing's text, the .drv format, the attribution to layers, and
// the whole against this machine's real Nix with a file:// binary cache of the test's own.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DEV_NIX_CONFIG, devNixEnv } from "../test/support/stack";
import { DrvInfo, LayerForecast, attribute, forecastMessage, formatSize, parseDerivation, parseDryRun, parsePathInfo, runForecast } from "./forecast";

/** What the dev toolchain's Nix printed (test/nix-recorded/record.sh). */
const RECORDED = path.join(__dirname, "../test/nix-recorded/2.26.3");
const recorded = (f: string) => fs.readFileSync(path.join(RECORDED, f), "utf8");

const S = (name: string) => `/nix/store/${name.padEnd(32, "0").slice(0, 32)}-${name}`;

describe("parseDryRun", () => {
    test("reads printMissing's lists and totals (NixOS/nix 2.26.3 src/libmain/shared.cc)", () => {
        const text = [
            "warning: something unrelated",
            "these 2 derivations will be built:",
            `  ${S("b")}.drv`,
            `  ${S("a")}.drv`,
            "these 3 paths will be fetched (1.25 MiB download, 4.50 MiB unpacked):",
            `  ${S("x")}`,
            `  ${S("y")}`,
            `  ${S("z")}`,
            "don't know how to build these paths:",
            `  ${S("u")}`,
            "",
        ].join("\n");
        expect(parseDryRun(text)).toEqual({
            build: [`${S("b")}.drv`, `${S("a")}.drv`], fetch: [S("x"), S("y"), S("z")], unknown: [S("u")], downloadMiB: 1.25, unpackedMiB: 4.5,
        });
    });

    test("the singular headers, and nothing at all", () => {
        expect(parseDryRun(`this derivation will be built:\n  ${S("a")}.drv\nthis path will be fetched (0.00 MiB download, 0.01 MiB unpacked):\n  ${S("x")}\n`))
            .toEqual({ build: [`${S("a")}.drv`], fetch: [S("x")], unknown: [], downloadMiB: 0, unpackedMiB: 0.01 });
        expect(parseDryRun("")).toEqual({ build: [], fetch: [], unknown: [] });
    });

    test("an indented line outside a list is not taken", () => {
        expect(parseDryRun(`error: something\n  ${S("a")}\n`)).toEqual({ build: [], fetch: [], unknown: [] });
    });
});

describe("the answers Nix 2.26.3 printed (test/nix-recorded)", () => {
    const dep = "/nix/store/q48fvj6vfgkjhjvhl95f4cbx04398kj8-recorded-dep";
    const top = "/nix/store/i6zg7z0sz2bsri1f79hh5nb4xwks85as-recorded-top.drv";
    const missing = "/nix/store/00000000000000000000000000000000-missing";

    test("a dry run with a path to build and one to fetch", () => {
        expect(parseDryRun(recorded("dry-run-build-fetch.stderr"))).toEqual({ build: [top], fetch: [dep], unknown: [], downloadMiB: 0, unpackedMiB: 0 });
    });

    test("a derivation the store lacks is a path Nix does not know how to build, not an error", () => {
        expect(parseDryRun(recorded("dry-run-unknown.stderr"))).toEqual({ build: [], fetch: [], unknown: [`${missing}.drv`] });
    });

    test("path-info of a binary cache: an object keyed by path, null for a path it lacks", () => {
        const infos = parsePathInfo(recorded("path-info-binary-cache.json"));
        expect([...infos.keys()]).toEqual([dep]);
        expect(infos.get(dep)).toMatchObject({ downloadSize: 128, narSize: 120, references: [] });
    });

    test("path-info as Nix 2.18 answers it: a list, with valid false for a path the store lacks", () => {
        const list = JSON.stringify([{ path: dep, valid: true, narSize: 120, downloadSize: 128, references: [] }, { path: missing, valid: false }]);
        expect([...parsePathInfo(list)]).toEqual([[dep, { path: dep, valid: true, narSize: 120, downloadSize: 128, references: [] }]]);
    });

    test("the recorded derivation's outputs and inputs", () => {
        const d = parseDerivation(recorded("recorded-top.drv"));
        expect(Object.keys(d.outputs)).toEqual(["out"]);
        expect(d.outputs.out).toMatch(/^\/nix\/store\/[0-9a-z]{32}-recorded-top$/);
        expect(d.inputDrvs).toEqual({ "/nix/store/a3r3ayxfw89xx77qlakn1cjaz449qrgy-recorded-dep.drv": ["out"] });
    });
});

describe("parseDerivation", () => {
    test("outputs and input derivations, with escaped strings elsewhere", () => {
        const drv = `Derive([("dev","${S("o1")}-dev","",""),("out","${S("o1")}","","")],[("${S("i1")}.drv",["out"]),("${S("i2")}.drv",["dev","out"])],["${S("src")}"],"x86_64-linux","/bin/sh",["-c","echo \\"a\\\\b\\"\\n"],[("name","x),(y"),("out","${S("o1")}")])`;
        expect(parseDerivation(drv)).toEqual({
            outputs: { dev: `${S("o1")}-dev`, out: S("o1") },
            inputDrvs: { [`${S("i1")}.drv`]: ["out"], [`${S("i2")}.drv`]: ["dev", "out"] },
            inputSrcs: [S("src")],
            // Only the variables that name it: `out` is left out.
            env: { name: "x),(y" },
        });
    });

    test("refuses what is not a derivation", () => {
        expect(() => parseDerivation("{}")).toThrow("not a derivation (no Derive( at offset 0)");
        expect(() => parseDerivation('Derive([("out","/x"')).toThrow("not a derivation");
    });
});

describe("attribute", () => {
    // img1 <- blob1 <- pkg1 ; img2 <- blob1, blob2 <- pkg2 ; img2 also needs src (fetched) which references lib (fetched).
    const drvs: Record<string, DrvInfo> = {
        "/d/img1.drv": { outputs: { out: "/o/img1" }, inputDrvs: { "/d/blob1.drv": ["out"] } },
        "/d/img2.drv": { outputs: { out: "/o/img2" }, inputDrvs: { "/d/blob1.drv": ["out"], "/d/blob2.drv": ["out"], "/d/tool.drv": ["bin"] } },
        "/d/blob1.drv": { outputs: { out: "/o/blob1" }, inputDrvs: { "/d/pkg1.drv": ["out"] } },
        "/d/blob2.drv": { outputs: { out: "/o/blob2" }, inputDrvs: { "/d/pkg2.drv": ["out"] } },
        "/d/pkg1.drv": { outputs: { out: "/o/pkg1" }, inputDrvs: {} },
        "/d/pkg2.drv": { outputs: { out: "/o/pkg2" }, inputDrvs: {} },
        "/d/tool.drv": { outputs: { bin: "/o/tool-bin", doc: "/o/tool-doc" }, inputDrvs: {} },
        "/d/img3.drv": { outputs: { out: "/o/img3" }, inputDrvs: {} },
    };
    const read = (p: string) => { if (!drvs[p]) throw new Error(`read ${p}`); return drvs[p]; };
    const infos = new Map([
        ["/o/tool-bin", { references: ["/o/lib", "/o/tool-bin"], downloadSize: 10, narSize: 30, substituter: "file:///c" }],
        ["/o/lib", { references: [], downloadSize: 5, narSize: 7, substituter: "file:///c" }],
        ["/o/tool-doc", { references: [], downloadSize: 1, narSize: 1, substituter: "file:///c" }],
        ["/o/img3", { references: [], downloadSize: 100, narSize: 300, substituter: "https://other" }],
    ]);

    test("each layer gets what its derivation reaches, shared work under each layer that needs it", () => {
        const dry = { build: ["/d/img2.drv", "/d/blob2.drv", "/d/pkg2.drv"], fetch: ["/o/tool-bin", "/o/lib", "/o/tool-doc", "/o/img3"], unknown: [] };
        const f = attribute([{ id: "one", drvPath: "/d/img1.drv" }, { id: "two", drvPath: "/d/img2.drv" }, { id: "three", drvPath: "/d/img3.drv" }], dry, read, infos);
        expect(f.one).toEqual({ status: "unchanged", build: [], fetch: [], downloadSize: 0, narSize: 0 });
        expect(f.two).toEqual({
            status: "build", build: ["/d/blob2.drv", "/d/img2.drv", "/d/pkg2.drv"],
            // The wanted output only (bin, not doc), and what it references.
            fetch: [{ path: "/o/lib", downloadSize: 5, narSize: 7, substituter: "file:///c" }, { path: "/o/tool-bin", downloadSize: 10, narSize: 30, substituter: "file:///c" }],
            downloadSize: 15, narSize: 37,
        });
        expect(f.three).toEqual({ status: "substitute", build: [], fetch: [{ path: "/o/img3", downloadSize: 100, narSize: 300, substituter: "https://other" }], downloadSize: 100, narSize: 300 });
    });

    test("a path no substituter listed has no size; unknown paths are named", () => {
        const dry = { build: ["/d/img2.drv"], fetch: ["/o/blob1"], unknown: ["/d/blob2.drv"] };
        const f = attribute([{ id: "two", drvPath: "/d/img2.drv" }], dry, read, new Map());
        expect(f.two).toEqual({ status: "build", build: ["/d/img2.drv"], fetch: [{ path: "/o/blob1" }], downloadSize: 0, narSize: 0, unknown: ["/d/blob2.drv"] });
        expect(forecastMessage(f.two)).toBe([
            "forecast: build: 1 derivation to build, 1 path to fetch: 0 B download, 0 B unpacked, 1 path Nix does not know how to build",
            "  build /d/img2.drv",
            "  fetch /o/blob1 (size unknown: no substituter listed it)",
            "  unknown /d/blob2.drv",
        ].join("\n"));
    });
});

test("formatSize gives the exact bytes, then a unit for people", () => {
    expect(formatSize(0)).toBe("0 B");
    expect(formatSize(1023)).toBe("1023 B");
    expect(formatSize(12800)).toBe("12800 B (12.5 KiB)");
    expect(formatSize(3 * 2 ** 30)).toBe("3221225472 B (3.0 GiB)");
});

describe("runForecast, against this machine's Nix and a file:// cache", () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-forecast-unit-"));
    const cache = path.join(dir, "cache");
    const env = devNixEnv();
    const nix = (prog: string, args: string[]) => execFileSync(prog, args, { env, encoding: "utf8", stdio: ["ignore", "pipe", "pipe"] }).trim();
    // Unique derivations: dep <- mid (references dep) <- top ; solo ; cached (only in the cache).
    const nonce = `${process.pid}-${Date.now()}`;
    const drv = (name: string, script: string) => `derivation { name = "fc-${name}-${nonce}"; system = "x86_64-linux"; builder = "/bin/sh"; args = [ "-c" ${JSON.stringify(script)} ]; }`;
    let d: Record<string, string>;
    let out: Record<string, string>;
    const narinfo = (p: string) => {
        const text = fs.readFileSync(path.join(cache, `${path.basename(p).slice(0, 32)}.narinfo`), "utf8");
        const field = (k: string) => Number(new RegExp(`^${k}: (\\d+)$`, "m").exec(text)![1]);
        return { downloadSize: field("FileSize"), narSize: field("NarSize") };
    };

    beforeAll(() => {
        fs.writeFileSync(path.join(dir, "default.nix"), `rec {
  dep = ${drv("dep", "echo dep > $out")};
  mid = ${drv("mid", "echo ${dep} > $out")};
  top = ${drv("top", "cat ${mid} > $out")};
  solo = ${drv("solo", "echo solo > $out")};
  cached = ${drv("cached", "echo cached > $out")};
}`);
        d = {};
        out = {};
        for (const a of ["dep", "mid", "top", "solo", "cached"]) {
            d[a] = nix("nix-instantiate", [path.join(dir, "default.nix"), "-A", a]);
            out[a] = nix("nix-store", ["-q", "--outputs", d[a]]);
        }
        // mid (with dep, which it references) and cached go to the cache, then leave this store.
        nix("nix-store", ["--realise", d.mid, d.cached]);
        nix("nix", ["copy", "--to", `file://${cache}`, out.mid, out.cached]);
        nix("nix-store", ["--delete", out.mid, out.dep, out.cached]);
    });
    afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

    test("names exactly what each layer would build and fetch, with the sizes the cache holds", () => {
        const layers = [{ id: "top", drvPath: d.top }, { id: "solo", drvPath: d.solo }, { id: "cached", drvPath: d.cached }];
        const { layers: f, dry } = runForecast(layers, `${DEV_NIX_CONFIG}\nextra-substituters = file://${cache}`);
        const fetched = (p: string) => ({ path: p, ...narinfo(p), substituter: `file://${cache}` });
        const sum = (ps: string[], k: "downloadSize" | "narSize") => ps.reduce((s, p) => s + narinfo(p)[k], 0);
        expect(f.top).toEqual<LayerForecast>({
            status: "build", build: [d.top], fetch: [out.dep, out.mid].sort().map(fetched),
            downloadSize: sum([out.dep, out.mid], "downloadSize"), narSize: sum([out.dep, out.mid], "narSize"),
        });
        expect(f.solo).toEqual<LayerForecast>({ status: "build", build: [d.solo], fetch: [], downloadSize: 0, narSize: 0 });
        expect(f.cached).toEqual<LayerForecast>({
            status: "substitute", build: [], fetch: [fetched(out.cached)], downloadSize: narinfo(out.cached).downloadSize, narSize: narinfo(out.cached).narSize,
        });
        // Nix's own lists, which the layers' add up to.
        expect(dry.build.sort()).toEqual([d.top, d.solo].sort());
        expect(dry.fetch.sort()).toEqual([out.dep, out.mid, out.cached].sort());
    });

    test("nothing missing: every layer unchanged, and only the dry run ran", () => {
        nix("nix-store", ["--realise", d.solo]);
        const { layers: f, dry } = runForecast([{ id: "solo", drvPath: d.solo }], DEV_NIX_CONFIG);
        expect(f.solo).toEqual({ status: "unchanged", build: [], fetch: [], downloadSize: 0, narSize: 0 });
        expect(dry).toEqual({ build: [], fetch: [], unknown: [] });
    });

    test("a failing Nix call is an error naming the command", () => {
        // (A derivation the store lacks no longer fails a dry run since Nix 2.15: a path outside the store does.)
        expect(() => runForecast([{ id: "x", drvPath: "/tmp/not-in-the-store.drv" }], DEV_NIX_CONFIG))
            .toThrow(/^nix build --dry-run exited 1: /);
    });

    test("a derivation the store lacks is named as unknown", () => {
        const missing = "/nix/store/00000000000000000000000000000000-missing.drv";
        const { layers: f } = runForecast([{ id: "x", drvPath: missing }], DEV_NIX_CONFIG);
        expect(f.x).toEqual({ status: "unchanged", build: [], fetch: [], downloadSize: 0, narSize: 0, unknown: [missing] });
    });
});
