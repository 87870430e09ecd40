// The work forecast: before anything is built, what realising the layers would make Nix do,
// per layer: which derivations it would build, which paths it would fetch from a binary
// cache (with their sizes), or nothing at all. Nix answers for all layers at once; layerstack
// only attributes the answer to the layers.
//
// How Nix answers, read against NixOS/nix 2.18.0 to 2.26.3 (the Nix of the dev toolchain, whose
// answers test/nix-recorded/ holds as it printed them):
// - `nix build --dry-run <drv>^*...` (src/nix/build.cc, `if (dryRun)`) calls printMissing
//   (src/libmain/shared.cc) at error level, i.e. always on stderr, builds nothing and exits 0:
//     "this derivation will be built:" / "these N derivations will be built:", then one
//       "  <drv>" per line;
//     "this path will be fetched (X MiB download, Y MiB unpacked):" / "these N paths will be
//       fetched (...):", then one "  <path>" per line;
//     "don't know how to build these paths...:", then the paths (a derivation the store lacks:
//       since 2.15 no longer an error).
//   `<drv>^*` is the derivation's outputs, all of them. A bare `.drv` installable is the .drv
//   file itself since 2.15 (doc/manual release notes rl-2.15.md: the `.drv` special handling
//   was removed), which is always valid: asking for it would forecast nothing at all.
// - The sets come from Store::queryMissing (src/libstore/misc.cc): a derivation with a missing
//   output that no substituter has is to be built, and then so is each of its input
//   derivations' missing outputs, recursively; a missing output a substituter has is to be
//   fetched, and so are the missing paths it references. The download size is the narinfo's
//   FileSize, summed. Through a daemon, queryMissing runs in the daemon with the substituters
//   it accepts from the client (src/libstore/daemon.cc ClientSettings::apply).
// - It prints sizes only in total, so the sizes of the paths to fetch come from
//   `nix path-info --json --store <substituter> <paths>` (src/nix/path-info.cc pathInfoToJSON):
//   since 2.19 an object keyed by store path whose value is the path's info (narSize,
//   references, downloadSize for a binary cache) or null for a path the store lacks; 2.18
//   answers a list of {path, valid, ...} (src/libstore/store-api.cc Store::pathInfoToJSON).
//   Both are read. The substituters asked are the ones `nix config show --json` lists
//   (`nix show-config` before 2.20, lib/nixCli.ts), in that order, until every path is found.
// The forecast therefore costs one Nix process for all layers (the dry run), plus, only when
// something is to be fetched, the config and one `nix path-info` per substituter asked.
// It never runs `nix eval` (the program's single evaluation stays the only one) nor
// `nix-store` (which the layers' builds run).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as pulumi from "@pulumi/pulumi";
import { joinNixConfigText } from "./nix";
import { configShowArgs, requireNix } from "./nixCli";

/** What realising a layer makes Nix do: nothing, only fetch, or build (and maybe fetch). */
export type ForecastStatus = "unchanged" | "substitute" | "build";

export interface FetchForecast {
    readonly path: string;
    /** Compressed bytes to download (the narinfo's FileSize); absent when no substituter told. */
    readonly downloadSize?: number;
    /** Bytes once unpacked in the store (NAR size). */
    readonly narSize?: number;
    /** The substituter the sizes were read from. */
    readonly substituter?: string;
}

/** The forecast of one layer (the `forecast` stack output holds one per layer id). */
export interface LayerForecast {
    readonly status: ForecastStatus;
    /** The derivations its image needs built, in no particular order of dependency. */
    readonly build: string[];
    /** The paths its image needs fetched. */
    readonly fetch: FetchForecast[];
    /** Sums over `fetch` (paths of unknown size count 0). */
    readonly downloadSize: number;
    readonly narSize: number;
    /** Paths Nix does not know how to produce ("don't know how to build"). @default none */
    readonly unknown?: string[];
}

/** printMissing's three lists and its totals, as `nix build --dry-run` prints them. */
export interface DryRun {
    readonly build: string[];
    readonly fetch: string[];
    readonly unknown: string[];
    /** The totals of the fetch line, in MiB as printed (two decimals). */
    readonly downloadMiB?: number;
    readonly unpackedMiB?: number;
}

const HEADERS: [RegExp, "build" | "fetch" | "unknown"][] = [
    [/^(this derivation|these \d+ derivations) will be built:$/, "build"],
    [/^(this path|these \d+ paths) will be fetched \((?<dl>[\d.]+) MiB download, (?<nar>[\d.]+) MiB unpacked\):$/, "fetch"],
    [/^don't know how to build these paths( \(may be caused by read-only store access\))?:$/, "unknown"],
];

/** Reads printMissing's output (shared.cc); lines of anything else (warnings) are skipped. */
export function parseDryRun(stderr: string): DryRun {
    const lists = { build: [] as string[], fetch: [] as string[], unknown: [] as string[] };
    let current: keyof typeof lists | undefined;
    let downloadMiB: number | undefined, unpackedMiB: number | undefined;
    for (const line of stderr.split("\n")) {
        const header = HEADERS.find(([re]) => re.test(line));
        if (header) {
            current = header[1];
            const g = header[0].exec(line)!.groups;
            if (g?.dl !== undefined) { downloadMiB = Number(g.dl); unpackedMiB = Number(g.nar); }
            continue;
        }
        const m = /^ {2}(\/\S+)$/.exec(line);
        if (m && current) lists[current].push(m[1]);
        else current = undefined;
    }
    return { ...lists, ...(downloadMiB !== undefined ? { downloadMiB, unpackedMiB } : {}) };
}

/**
 * What the attribution needs of a derivation: its outputs' paths and its input derivations'
 * wanted outputs; and what a layer's contents need (lib/contents.ts): its input sources and
 * the few environment variables that name it (DRV_ENV_KEYS).
 */
export interface DrvInfo {
    readonly outputs: Record<string, string>;
    readonly inputDrvs: Record<string, string[]>;
    readonly inputSrcs?: string[];
    readonly env?: Partial<Record<(typeof DRV_ENV_KEYS)[number], string>>;
}

/** The environment variables of a derivation that are kept: its name, version and, for a fixed-output one, its hash. */
export const DRV_ENV_KEYS = ["name", "pname", "version", "outputHash", "outputHashAlgo"] as const;

type ATerm = string | ATerm[];

/**
 * Parses a .drv file (Nix's ATerm: `Derive([outputs],[inputDrvs],[inputSrcs],system,builder,
 * [args],[env])`, strings in double quotes with \" \\ \n \r \t escaped; NixOS/nix 2.26.3
 * src/libstore/derivations.cc parseDerivation and printString).
 */
export function parseDerivation(text: string): DrvInfo {
    let i = 0;
    const fail = (what: string): never => { throw new Error(`not a derivation (${what} at offset ${i})`); };
    const value = (): ATerm => {
        const c = text[i];
        if (c === '"') {
            let s = "";
            for (i++; text[i] !== '"'; i++) {
                if (i >= text.length) fail("unterminated string");
                if (text[i] === "\\") {
                    const e = text[++i];
                    s += e === "n" ? "\n" : e === "r" ? "\r" : e === "t" ? "\t" : e;
                } else s += text[i];
            }
            i++;
            return s;
        }
        if (c === "[" || c === "(") {
            const close = c === "[" ? "]" : ")";
            const items: ATerm[] = [];
            i++;
            while (text[i] !== close) {
                if (items.length) { if (text[i] !== ",") fail("expected ','"); i++; }
                items.push(value());
            }
            i++;
            return items;
        }
        return fail(`unexpected ${JSON.stringify(c)}`);
    };
    if (!text.startsWith("Derive(")) fail("no Derive(");
    i = "Derive".length;
    const d = value() as ATerm[];
    const outputs: Record<string, string> = {};
    for (const o of d[0] as string[][]) outputs[o[0]] = o[1];
    const inputDrvs: Record<string, string[]> = {};
    for (const x of d[1] as [string, string[]][]) inputDrvs[x[0]] = x[1];
    const env: Partial<Record<(typeof DRV_ENV_KEYS)[number], string>> = {};
    for (const [k, v] of d[6] as [string, string][]) if ((DRV_ENV_KEYS as readonly string[]).includes(k)) env[k as (typeof DRV_ENV_KEYS)[number]] = v;
    return { outputs, inputDrvs, inputSrcs: d[2] as string[], env };
}

/** What a substituter says of a path (`nix path-info --json`). */
export interface PathInfo {
    readonly downloadSize?: number;
    readonly narSize?: number;
    readonly references: string[];
    readonly substituter: string;
}

/** One path as `nix path-info --json` describes it (either shape, see the header). */
interface RawPathInfo { narSize?: number; downloadSize?: number; references?: string[] }

/**
 * `nix path-info --json`'s answer as path -> info, for the paths the store has: Nix 2.19 and
 * later answer an object (null for a path the store lacks), 2.18 a list with `valid`.
 */
export function parsePathInfo(json: string): Map<string, RawPathInfo> {
    const v = JSON.parse(json) as Record<string, RawPathInfo | null> | (RawPathInfo & { path: string; valid?: boolean })[];
    const out = new Map<string, RawPathInfo>();
    if (Array.isArray(v)) {
        for (const p of v) if (p.valid !== false) out.set(p.path, p);
    } else {
        for (const [p, info] of Object.entries(v)) if (info) out.set(p, info);
    }
    return out;
}

/**
 * Attributes Nix's answer to the layers, as queryMissing reached each path: from a layer's
 * derivation, through the derivations to be built and their input derivations' wanted outputs,
 * to the paths to fetch and the missing paths those reference. A derivation or path needed by
 * several layers is listed under each.
 */
export function attribute(layers: readonly { id: string; drvPath: string }[], dry: DryRun, readDrv: (drvPath: string) => DrvInfo,
    infos: ReadonlyMap<string, PathInfo>): Record<string, LayerForecast> {
    const toBuild = new Set(dry.build), toFetch = new Set(dry.fetch), unknown = new Set(dry.unknown);
    const out: Record<string, LayerForecast> = {};
    for (const layer of layers) {
        const build = new Set<string>(), fetch = new Set<string>(), missing = new Set<string>();
        const visitPath = (p: string): void => {
            if (unknown.has(p)) { missing.add(p); return; }
            if (!toFetch.has(p) || fetch.has(p)) return;
            fetch.add(p);
            for (const r of infos.get(p)?.references ?? []) if (r !== p) visitPath(r);
        };
        const visitDrv = (drvPath: string, wanted?: readonly string[]): void => {
            if (unknown.has(drvPath)) { missing.add(drvPath); return; }
            if (toBuild.has(drvPath)) {
                if (build.has(drvPath)) return;
                build.add(drvPath);
                for (const [input, outs] of Object.entries(readDrv(drvPath).inputDrvs)) visitDrv(input, outs);
            } else if (toFetch.size || unknown.size) {
                for (const [name, p] of Object.entries(readDrv(drvPath).outputs)) if (p && (!wanted || wanted.includes(name))) visitPath(p);
            }
        };
        visitDrv(layer.drvPath);
        const fetched = [...fetch].sort().map((p): FetchForecast => {
            const info = infos.get(p);
            return { path: p, ...(info?.downloadSize !== undefined ? { downloadSize: info.downloadSize } : {}),
                ...(info?.narSize !== undefined ? { narSize: info.narSize } : {}), ...(info ? { substituter: info.substituter } : {}) };
        });
        out[layer.id] = {
            status: build.size ? "build" : fetch.size ? "substitute" : "unchanged",
            build: [...build].sort(),
            fetch: fetched,
            downloadSize: fetched.reduce((s, f) => s + (f.downloadSize ?? 0), 0),
            narSize: fetched.reduce((s, f) => s + (f.narSize ?? 0), 0),
            ...(missing.size ? { unknown: [...missing].sort() } : {}),
        };
    }
    return out;
}

/** `1 path`, `3 paths`. */
function count(k: number, one: string, many: string): string {
    return `${k} ${k === 1 ? one : many}`;
}

/** A size with its exact bytes first: `812 B`, `12800 B (12.5 KiB)`. */
export function formatSize(bytes: number): string {
    if (bytes < 1024) return `${bytes} B`;
    const units = ["KiB", "MiB", "GiB", "TiB"];
    let v = bytes / 1024, u = 0;
    while (v >= 1024 && u < units.length - 1) { v /= 1024; u++; }
    return `${bytes} B (${v.toFixed(1)} ${units[u]})`;
}

/** What a layer's forecast says in one line: `3 derivations to build, 1 path to fetch: <size> download, <size> unpacked`. */
export function forecastSummary(f: LayerForecast): string {
    const parts: string[] = [];
    if (f.build.length) parts.push(`${count(f.build.length, "derivation", "derivations")} to build`);
    if (f.fetch.length) parts.push(`${count(f.fetch.length, "path", "paths")} to fetch: ${formatSize(f.downloadSize)} download, ${formatSize(f.narSize)} unpacked`);
    if (f.unknown?.length) parts.push(`${count(f.unknown.length, "path", "paths")} Nix does not know how to build`);
    return parts.length ? parts.join(", ") : "nothing to build or fetch";
}

/**
 * The preview's message for one layer: `forecast: <status>: <summary>`, then each derivation
 * and path on a line of its own (scripts/graph.js reads the first line).
 */
export function forecastMessage(f: LayerForecast): string {
    const lines = [`forecast: ${f.status}: ${forecastSummary(f)}`];
    for (const d of f.build) lines.push(`  build ${d}`);
    for (const p of f.fetch) {
        const size = p.downloadSize !== undefined ? `${formatSize(p.downloadSize)} download, ${formatSize(p.narSize ?? 0)} unpacked, from ${p.substituter}` : "size unknown: no substituter listed it";
        lines.push(`  fetch ${p.path} (${size})`);
    }
    for (const u of f.unknown ?? []) lines.push(`  unknown ${u}`);
    return lines.join("\n");
}

const drvCache = new Map<string, DrvInfo>();

/**
 * A .drv file of the store, parsed once per program (the forecast and the layers' contents,
 * lib/contents.ts, read the same ones). A .drv never changes: its path is the hash of its text.
 */
export function readDrvFile(p: string): DrvInfo {
    let d = drvCache.get(p);
    if (!d) drvCache.set(p, (d = parseDerivation(fs.readFileSync(p, "utf8"))));
    return d;
}

/** Runs a Nix command for the forecast; throws with its stderr's tail on failure. */
function nix(args: string[], env: NodeJS.ProcessEnv): { stdout: string; stderr: string } {
    const r = spawnSync("nix", ["--extra-experimental-features", "nix-command", ...args], { env, encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (r.error) throw r.error;
    if (r.status !== 0) throw new Error(`nix ${args.slice(0, 2).join(" ")} exited ${r.status}: ${(r.stderr ?? "").trim().split("\n").slice(-5).join("\n")}`);
    return { stdout: r.stdout, stderr: r.stderr };
}

/** Asks Nix what realising these layers would do (see the header) and attributes it. */
export function runForecast(layers: readonly { id: string; drvPath: string }[], nixConfig?: string): { layers: Record<string, LayerForecast>; dry: DryRun } {
    const env: NodeJS.ProcessEnv = { ...process.env, NIX_CONFIG: joinNixConfigText(nixConfig, process.env.NIX_CONFIG) };
    if (!env.NIX_CONFIG) delete env.NIX_CONFIG;
    const drvs = [...new Set(layers.map((l) => l.drvPath))];
    const dry = parseDryRun(nix(["build", "--dry-run", ...drvs.map((d) => `${d}^*`)], env).stderr);
    const infos = new Map<string, PathInfo>();
    if (dry.fetch.length) {
        const config = JSON.parse(nix(configShowArgs(requireNix(env)), env).stdout) as { substituters?: { value?: string[] } };
        let left = dry.fetch;
        for (const substituter of config.substituters?.value ?? []) {
            if (!left.length) break;
            // No substituters of its own: path-info only reads what this one has.
            const listed = parsePathInfo(nix(["path-info", "--json", "--option", "substituters", "", "--store", substituter, ...left], env).stdout);
            for (const [p, info] of listed) {
                infos.set(p, { references: info.references ?? [], substituter,
                    ...(info.downloadSize !== undefined ? { downloadSize: info.downloadSize } : {}), ...(info.narSize !== undefined ? { narSize: info.narSize } : {}) });
            }
            left = left.filter((p) => !infos.has(p));
        }
    }
    return { layers: attribute(layers, dry, readDrvFile, infos), dry };
}

/** The stack's line: how many layers have work, and Nix's own totals (every preview prints it). */
export function forecastTotals(layers: Record<string, LayerForecast>, dry: DryRun): string {
    const all = Object.values(layers);
    const busy = all.filter((f) => f.status !== "unchanged").length;
    if (!busy && !dry.unknown.length) return `forecast: nothing to build or fetch for the ${all.length} layers`;
    return `forecast: ${busy} of ${all.length} layers have work: ${count(dry.build.length, "derivation", "derivations")} to build, ${count(dry.fetch.length, "path", "paths")} to fetch`
        + (dry.downloadMiB !== undefined ? ` (${dry.downloadMiB.toFixed(2)} MiB download, ${dry.unpackedMiB!.toFixed(2)} MiB unpacked, as Nix sums them)` : "");
}

/** A layer as the forecast sees it: its id, its derivation, and the resource its preview message is attached to. */
export interface ForecastLayer {
    readonly id: string;
    readonly drvPath: string;
    readonly resource?: pulumi.Resource;
}

/**
 * Runs the forecast once for all layers, with the stack's Nix settings (`layerstack:nixConfig`
 * and the binary cache's substituter). With settings known now (plain strings), it runs at once,
 * in the program's first synchronous run, before any resource registration has reached the
 * engine, so an `up`'s builds cannot have started. A Cachix cache's settings are known only once
 * its info is read (a new stack's first preview has none); the forecast then runs as soon as
 * they are, alongside the builds that waited for the same info. A forecast that fails warns and
 * gives nothing: it never stops a preview. What it found is said once, in the preview's table
 * (lib/changeReport.ts), not per layer: its paths are in the `forecast` output's value.
 */
export function forecastLayers(layers: readonly ForecastLayer[], nixConfig: readonly (pulumi.Input<string> | undefined)[]): pulumi.Output<{ layers: Record<string, LayerForecast>; dry: DryRun } | undefined> {
    const run = (texts: (string | undefined)[]) => {
        try {
            return runForecast(layers, joinNixConfigText(...texts) || undefined);
        } catch (e) {
            pulumi.log.warn(`forecast: asking Nix what the layers' builds would do failed, so this preview has no forecast: ${(e as Error).message}`);
            return undefined;
        }
    };
    if (nixConfig.every((c) => c === undefined || typeof c === "string")) return pulumi.output(run(nixConfig as (string | undefined)[]));
    return pulumi.all(nixConfig as pulumi.Input<string | undefined>[]).apply(run);
}
