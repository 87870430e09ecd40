// What a layer contains, and why it changed: read from the derivations the program's one
// `nix eval` put in the store, with no build and no Nix process at all (the .drv files are
// read directly, as the forecast reads them).
//
// A layer's own derivations are the derivations its image's derivation needs (its closure
// through inputDrvs) that its parent's image does not. From them:
// - packages: every derivation with a version, as name -> version. The name and version are
//   the derivation's `pname` and `version` where it sets both (stdenv.mkDerivation and
//   buildPythonPackage do), else its `name` split as Nix splits it: the version starts at the
//   first dash followed by a character that is not a letter (NixOS/nix 2.26.3
//   src/libstore/names.cc DrvName::DrvName, builtins.parseDrvName). So nixpkgs'
//   `python3.14-numpy-2.3.2` is python3.14-numpy 2.3.2 (its `pname` is numpy, but its name
//   says which Python it is for, and so does the preview).
// - sources: every input source (a file of the flake, such as a package list: the .drv's
//   inputSrcs) as name -> the hash part of its store path, and every fixed-output derivation
//   (a fetchurl of a wheel or a tarball: it sets `outputHash`) as its name -> its declared hash.
// - contentHash: a hash of the own derivations' paths but the image's own derivation: when it
//   is unchanged, the image is assembled again from the same store paths (a new config, the same
//   own blob).
// Bounded: a layer keeps at most MAX_PACKAGES packages and MAX_SOURCES sources (a CUDA layer's
// closure has thousands of derivations); what is left out still counts in `packagesDigest` and
// `sourcesDigest`, so a change beyond the lists is still seen.
import { createHash } from "crypto";
import type { DrvInfo } from "./forecast";

export const MAX_PACKAGES = 2000;
export const MAX_SOURCES = 500;

/** What a layer keeps in its state (the `layerContents` stack output, per layer id). */
export interface LayerContents {
    /** The image's derivation these contents were read from. */
    readonly drvPath: string;
    /** The parent layer's id. @default none: a root layer */
    readonly parent?: string;
    /** name -> version of the layer's own derivations that have a version (several versions: joined by ", "). */
    readonly packages: Record<string, string>;
    /** name -> hash of its own input sources and fixed-output derivations (several: joined by ", "). */
    readonly sources: Record<string, string>;
    /** sha256 of its own derivations' paths but the image's own: unchanged means the same own store paths. */
    readonly contentHash: string;
    /** sha256 of every package and every source, so that a change beyond the kept lists is seen. */
    readonly packagesDigest: string;
    readonly sourcesDigest: string;
    /** How many packages and sources there are in all, where more than the kept lists. @default the lists' lengths */
    readonly packageCount?: number;
    readonly sourceCount?: number;
}

/** builtins.parseDrvName (names.cc DrvName): the version starts at the first `-` followed by a non-letter. */
export function parseDrvName(name: string): { name: string; version: string } {
    for (let i = 0; i + 1 < name.length; i++) {
        if (name[i] === "-" && !/[A-Za-z]/.test(name[i + 1])) return { name: name.slice(0, i), version: name.slice(i + 1) };
    }
    return { name, version: "" };
}

/** A store path's name: what follows its 32-character hash and the dash. */
export function storeName(path: string): string {
    const base = path.slice(path.lastIndexOf("/") + 1);
    return /^[0-9a-z]{32}-/.test(base) ? base.slice(33) : base;
}

/** A store path's hash part. */
function storeHash(path: string): string {
    const base = path.slice(path.lastIndexOf("/") + 1);
    return base.slice(0, 32);
}

/** The name and version a derivation is known by, or undefined when it has no version. */
export function packageOf(d: DrvInfo, drvPath: string): { name: string; version: string } | undefined {
    const env = d.env ?? {};
    const fromName = parseDrvName(env.name ?? storeName(drvPath).replace(/\.drv$/, ""));
    // pname + version where both are set and agree with the name's version (mkDerivation sets
    // name = "${pname}-${version}"); the name keeps any prefix (python3.14-), so it is the name.
    if (fromName.version) return fromName;
    if (env.pname && env.version) return { name: env.pname, version: env.version };
    return undefined;
}

/** Every derivation reachable from `root` through inputDrvs, `root` included. */
export function drvClosure(root: string, readDrv: (p: string) => DrvInfo, memo: Map<string, ReadonlySet<string>>): ReadonlySet<string> {
    const known = memo.get(root);
    if (known) return known;
    const seen = new Set<string>();
    const stack = [root];
    while (stack.length) {
        const p = stack.pop()!;
        if (seen.has(p)) continue;
        seen.add(p);
        for (const input of Object.keys(readDrv(p).inputDrvs)) if (!seen.has(input)) stack.push(input);
    }
    memo.set(root, seen);
    return seen;
}

const sha256 = (s: string): string => createHash("sha256").update(s).digest("hex");

/** Adds `value` under `key`, several values joined by ", " in sorted order. */
function addTo(map: Map<string, Set<string>>, key: string, value: string): void {
    let s = map.get(key);
    if (!s) map.set(key, (s = new Set()));
    s.add(value);
}

function joined(map: Map<string, Set<string>>): [string, string][] {
    return [...map].map(([k, v]): [string, string] => [k, [...v].sort().join(", ")]).sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

/** One layer's contents, from its own derivations (see the header). */
export function layerContents(layer: { drvPath: string; parent?: { id: string; drvPath: string } }, readDrv: (p: string) => DrvInfo,
    memo: Map<string, ReadonlySet<string>> = new Map()): LayerContents {
    const all = drvClosure(layer.drvPath, readDrv, memo);
    const inherited = layer.parent ? drvClosure(layer.parent.drvPath, readDrv, memo) : new Set<string>();
    const own = [...all].filter((p) => !inherited.has(p)).sort();
    const packages = new Map<string, Set<string>>(), sources = new Map<string, Set<string>>();
    for (const p of own) {
        const d = readDrv(p);
        const env = d.env ?? {};
        if (env.outputHash) {
            // A fixed-output derivation: its declared hash is what it fetches (its URL may change with no other effect).
            addTo(sources, env.name ?? storeName(p).replace(/\.drv$/, ""), `${env.outputHashAlgo ? env.outputHashAlgo + ":" : ""}${env.outputHash}`);
            continue;
        }
        const pkg = packageOf(d, p);
        if (pkg) addTo(packages, pkg.name, pkg.version);
        for (const src of d.inputSrcs ?? []) addTo(sources, storeName(src), storeHash(src));
    }
    const pkgList = joined(packages), srcList = joined(sources);
    return {
        drvPath: layer.drvPath,
        ...(layer.parent ? { parent: layer.parent.id } : {}),
        packages: Object.fromEntries(pkgList.slice(0, MAX_PACKAGES)),
        sources: Object.fromEntries(srcList.slice(0, MAX_SOURCES)),
        contentHash: sha256(own.filter((p) => p !== layer.drvPath).join("\n")),
        packagesDigest: sha256(pkgList.map(([k, v]) => `${k}=${v}`).join("\n")),
        sourcesDigest: sha256(srcList.map(([k, v]) => `${k}=${v}`).join("\n")),
        ...(pkgList.length > MAX_PACKAGES ? { packageCount: pkgList.length } : {}),
        ...(srcList.length > MAX_SOURCES ? { sourceCount: srcList.length } : {}),
    };
}

/** What differs between two versions of a layer's own contents. */
export interface ContentDiff {
    /** `name old -> new`, `+ name version`, `- name version`, sorted by name. */
    readonly packages: string[];
    /** `name`, `+ name`, `- name`. */
    readonly sources: string[];
    /** The kept lists are equal but a digest differs: a change beyond them (MAX_PACKAGES, MAX_SOURCES). */
    readonly beyondLists: boolean;
    /** The own derivations differ (contentHash): its own blob is new. */
    readonly ownPathsChanged: boolean;
}

function diffMaps(olds: Record<string, string>, news: Record<string, string>, withValues: boolean): string[] {
    const names = [...new Set([...Object.keys(olds), ...Object.keys(news)])].sort();
    const out: string[] = [];
    for (const n of names) {
        const a = olds[n], b = news[n];
        if (a === b) continue;
        if (a === undefined) out.push(withValues ? `+ ${n} ${b}` : `+ ${n}`);
        else if (b === undefined) out.push(withValues ? `- ${n} ${a}` : `- ${n}`);
        else out.push(withValues ? `${n} ${a} -> ${b}` : n);
    }
    return out;
}

export function diffContents(olds: LayerContents, news: LayerContents): ContentDiff {
    const packages = diffMaps(olds.packages, news.packages, true);
    const sources = diffMaps(olds.sources, news.sources, false);
    const beyondLists = !packages.length && !sources.length
        && (olds.packagesDigest !== news.packagesDigest || olds.sourcesDigest !== news.sourcesDigest);
    return { packages, sources, beyondLists, ownPathsChanged: olds.contentHash !== news.contentHash };
}

/** Why a layer changed, per layer id. */
export type LayerChangeKind = "unchanged" | "new" | "content" | "parent" | "recipe";

export interface LayerWhy {
    readonly change: LayerChangeKind;
    /** The reason in a few words, for the table: `1 package, 1 source`, `parent changed (layer05-pak3)`. */
    readonly short: string;
    /** The reason in full: `1 package changed: python3.14-numpy 2.3.1 -> 2.3.2; source pak3.txt changed`. */
    readonly text: string;
    /** Whether its own blob is expected to be new (its own store paths changed, or it was never published). */
    readonly newBlob: boolean;
    /** The nearest ancestor whose own contents changed, when the change comes from there. */
    readonly cause?: string;
}

const plural = (n: number, one: string, many = `${one}s`): string => `${n} ${n === 1 ? one : many}`;

/** `3 packages changed: a 1 -> 2, + b 1.0; source pak3.txt changed` (the exact text is tested). */
export function describeDiff(d: ContentDiff): { short: string; text: string } {
    const parts: string[] = [], short: string[] = [];
    if (d.packages.length) {
        parts.push(`${plural(d.packages.length, "package")} changed: ${d.packages.join(", ")}`);
        short.push(plural(d.packages.length, "package"));
    }
    if (d.sources.length === 1 && !/^[+-] /.test(d.sources[0])) parts.push(`source ${d.sources[0]} changed`);
    else if (d.sources.length) parts.push(`${plural(d.sources.length, "source")} changed: ${d.sources.join(", ")}`);
    if (d.sources.length) short.push(plural(d.sources.length, "source"));
    if (d.beyondLists) { parts.push("packages or sources beyond the kept lists changed"); short.push("beyond the lists"); }
    return { short: short.join(", "), text: parts.join("; ") };
}

/**
 * Why each layer changed: its contents now against those of its last publish (`olds`, from
 * the stack's last `layerContents`), parents first. A layer whose derivation is the same is
 * unchanged; one with no earlier contents is new; one whose own packages or sources differ
 * says which; one whose own lists are the same while its parent changed says "parent
 * changed" and names the nearest ancestor whose own contents changed; and one with neither
 * changed its recipe (the image's own derivation: its config, its build script).
 */
export function whyChanged(layers: readonly { id: string; parent?: string }[], news: Readonly<Record<string, LayerContents>>,
    olds: Readonly<Record<string, LayerContents>> | undefined): Record<string, LayerWhy> {
    const out: Record<string, LayerWhy> = {};
    for (const l of layers) {
        const now = news[l.id], before = olds?.[l.id];
        if (before && before.drvPath === now.drvPath) { out[l.id] = { change: "unchanged", short: "unchanged", text: "unchanged", newBlob: false }; continue; }
        if (!before) { out[l.id] = { change: "new", short: "new", text: "new: never published", newBlob: true }; continue; }
        const d = diffContents(before, now);
        const own = describeDiff(d);
        if (own.text) { out[l.id] = { change: "content", ...own, newBlob: true }; continue; }
        const p = l.parent ? out[l.parent] : undefined;
        if (p && p.change !== "unchanged") {
            const cause = p.change === "parent" ? p.cause! : l.parent!;
            const causeText = `${cause}: ${out[cause].text}`;
            out[l.id] = {
                change: "parent", short: `parent changed (${cause})`,
                text: `parent changed: ${causeText}${d.ownPathsChanged ? "; its own derivations are rebuilt on it, same packages and sources" : ""}`,
                newBlob: d.ownPathsChanged, cause,
            };
            continue;
        }
        out[l.id] = {
            change: "recipe", short: "recipe changed",
            text: d.ownPathsChanged ? "recipe changed: its own derivations differ, with the same packages and sources"
                : "recipe changed: the image's own derivation differs (its config or build), with the same packages and sources",
            newBlob: d.ownPathsChanged,
        };
    }
    return out;
}
