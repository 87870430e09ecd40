// The bench's closure at the real megapak's scale (issue 22, "A benchmark at the real closure's
// scale"): a generated derivation graph, written into a project's copy of the fixture flake at
// run time (never committed). The 12 catalog layers keep their images (fixtures/megapak); each
// layer's own package (pkgOf) also takes the graph's derivations of that layer as inputs, so
// every image's derivation closure holds its part of the graph and its ancestors'.
//
// The graph, from a fixed seed (the same store paths every run, so a machine builds them once):
// - a bootstrap chain of 10 derivations (stdenv's stages), then a stdenv-like hub that every
//   package depends on;
// - packages in order, each with 1-4 more inputs picked among the earlier packages by
//   preferential attachment (an input is picked with probability ∝ 1 + how often it was picked:
//   a few zlib/openssl-like derivations end up with hundreds of dependants, most with a few, as
//   in nixpkgs), most of them among the packages of its own layer;
// - the packages split in the catalog's order into the 12 layers (a CUDA base with the largest
//   share); a layer's package takes its layer's packages that no later package depends on.
// Every package's output names its inputs' outputs (its runtime closure is its build closure,
// as for most nixpkgs packages). Builders are /bin/sh one-liners (sandbox off, as the fixture).
import * as fs from "fs";
import * as path from "path";

/** Each layer's share of the packages, in the catalog's order (layers/megapak.ts). */
const SHARES = [30, 15, 5, 15, 10, 3, 7, 7, 1, 3, 2, 2];
const BOOTSTRAP = 10;

export interface Dag {
    /** Each derivation's name (`name-version`) and its inputs (indices of earlier nodes). */
    readonly nodes: { name: string; deps: number[] }[];
    /** Per layer attribute: the nodes its package takes. */
    readonly layers: Record<string, number[]>;
    /** Per layer attribute: the nodes first in that layer's range [from, to). */
    readonly ranges: Record<string, [number, number]>;
}

/** mulberry32: a small seeded PRNG, so the graph (and its store paths) is the same every run. */
function prng(seed: number): () => number {
    let a = seed >>> 0;
    return () => {
        a = (a + 0x6d2b79f5) >>> 0;
        let t = a;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
}

/** A graph of `n` derivations for the layers `attrs` (in chain order), from `seed`. */
export function generateDag(n: number, attrs: readonly string[], seed = 22): Dag {
    if (attrs.length !== SHARES.length) throw new Error(`scale-drv: expected ${SHARES.length} layers, got ${attrs.length}`);
    const rnd = prng(seed);
    const nodes: { name: string; deps: number[] }[] = [];
    const total = SHARES.reduce((a, b) => a + b, 0);
    // Range boundaries: layer k owns [bounds[k], bounds[k+1]).
    const bounds = [0];
    for (const s of SHARES) bounds.push(Math.round(bounds[bounds.length - 1] + (n * s) / total));
    bounds[bounds.length - 1] = n;
    const layerOf = (i: number) => bounds.findIndex((b, k) => i >= b && i < bounds[k + 1]);
    const ver = (i: number) => `${1 + (i % 7)}.${i % 13}.${i % 3}`;
    const hub = BOOTSTRAP;
    // Preferential attachment pools: the whole graph so far, and each layer's own.
    const pool: number[] = [];
    const own: number[][] = SHARES.map(() => []);
    const dependedOn = new Uint8Array(n);
    for (let i = 0; i < n; i++) {
        const deps: number[] = [];
        if (i < BOOTSTRAP) { if (i > 0) deps.push(i - 1); nodes.push({ name: `bootstrap-stage${i}-${ver(i)}`, deps }); continue; }
        if (i === hub) { nodes.push({ name: `stdenv-linux-${ver(i)}`, deps: [BOOTSTRAP - 1] }); continue; }
        deps.push(hub);
        const k = layerOf(i);
        const extra = 1 + Math.floor(rnd() * 4);
        for (let e = 0; e < extra; e++) {
            const from = own[k].length && rnd() < 0.7 ? own[k] : pool;
            if (!from.length) break;
            const j = from[Math.floor(rnd() * from.length)];
            if (!deps.includes(j)) deps.push(j);
        }
        for (const d of deps) { dependedOn[d] = 1; if (d !== hub && d >= BOOTSTRAP) { pool.push(d); if (layerOf(d) === k) own[k].push(d); } }
        pool.push(i); own[k].push(i);
        nodes.push({ name: `pkg${i}-${ver(i)}`, deps });
    }
    const layers: Record<string, number[]> = {}, ranges: Record<string, [number, number]> = {};
    attrs.forEach((a, k) => {
        ranges[a] = [bounds[k], bounds[k + 1]];
        layers[a] = [];
        for (let i = bounds[k]; i < bounds[k + 1]; i++) if (!dependedOn[i]) layers[a].push(i);
    });
    return { nodes, layers, ranges };
}

/** The Nix of the graph: `dag.nix` in the flake, `{ run }: { <attr> = [ derivations ]; }`. */
const DAG_NIX = `{ run }:
let
  spec = builtins.fromJSON (builtins.readFile ./dag.json);
  nodes = builtins.genList (i: let n = builtins.elemAt spec.nodes i; in
    run n.name { deps = map (j: builtins.elemAt nodes j) n.deps; } ''
      echo "$deps" > "$out"
    '') (builtins.length spec.nodes);
in builtins.mapAttrs (_: map (i: builtins.elemAt nodes i)) spec.layers
`;

/** Writes the graph into a copy of fixtures/megapak (its flake.nix patched to take it). */
export function writeScaleFlake(flakeDir: string, dag: Dag): void {
    fs.writeFileSync(path.join(flakeDir, "dag.json"), JSON.stringify({ nodes: dag.nodes, layers: dag.layers }));
    fs.writeFileSync(path.join(flakeDir, "dag.nix"), DAG_NIX);
    const file = path.join(flakeDir, "flake.nix");
    const text = fs.readFileSync(file, "utf8");
    const at = "packages = listPackages l;";
    if (!text.includes(at)) throw new Error("scale-drv: fixtures/megapak/flake.nix no longer sets pkgOf's packages as expected");
    fs.writeFileSync(file, text.replace(at, `${at}\n        dagDeps = (import ./dag.nix { inherit run; }).\${l.attr} or [ ];`));
}

/** Graph statistics for the row: derivations, edges, the largest fan-in, the depth. */
export function dagStats(dag: Dag): { nodes: number; edges: number; maxFanIn: number; depth: number } {
    const fanIn = new Array(dag.nodes.length).fill(0), depth = new Array(dag.nodes.length).fill(0);
    let edges = 0;
    dag.nodes.forEach((nd, i) => { for (const d of nd.deps) { fanIn[d]++; edges++; depth[i] = Math.max(depth[i], depth[d] + 1); } });
    return { nodes: dag.nodes.length, edges, maxFanIn: Math.max(...fanIn), depth: Math.max(...depth) };
}
