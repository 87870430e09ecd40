import * as fs from "fs";
import * as path from "path";

/** The megapak's Python package lists (layers 05, 07 and 08), one pip requirement per line. */
export const PAK_FILES = { pak3: "pak3.txt", pak5: "pak5.txt", pak7: "pak7.txt" } as const;
export type Pak = keyof typeof PAK_FILES;

/**
 * The distribution name a requirement line installs: `imageio[ffmpeg]` -> `imageio`,
 * `git+https://.../cozy_comfyui@main#egg=cozy_comfyui` -> `cozy_comfyui`,
 * `git+https://github.com/openai/CLIP.git` -> `CLIP`. Comments and blank lines give none.
 */
export function distributionName(line: string): string | undefined {
    const l = line.trim();
    if (l === "" || l.startsWith("#")) return undefined;
    if (l.startsWith("git+")) {
        const egg = /#egg=([A-Za-z0-9._-]+)/.exec(l);
        if (egg) return egg[1];
        const repo = /\/([A-Za-z0-9._-]+?)(\.git)?(@[^#]*)?$/.exec(l.split("#")[0]);
        if (!repo) throw new Error(`cannot tell the distribution of ${JSON.stringify(l)}`);
        return repo[1];
    }
    const m = /^([A-Za-z0-9][A-Za-z0-9._-]*)/.exec(l);
    if (!m) throw new Error(`cannot tell the distribution of ${JSON.stringify(l)}`);
    return m[1];
}

/** The distributions of one pak list, in file order. */
export function pakDistributions(pak: Pak, dir = path.join(__dirname, "packages")): string[] {
    return fs.readFileSync(path.join(dir, PAK_FILES[pak]), "utf8").split("\n")
        .map(distributionName).filter((d): d is string => d !== undefined);
}

/** PEP 503 normalisation, as importlib.metadata and dist-info directory names use it. */
export function normalizeDistribution(name: string): string {
    return name.toLowerCase().replace(/[-_.]+/g, "_");
}

/** What a Nix list and the old pip list of the same layer hold differently (PEP 503 names). */
export interface ListDifference {
    /** In the old pip list, installed by no package of the Nix list: what the Nix flake dropped. */
    readonly dropped: string[];
    /** In the Nix list, not in the old pip list. */
    readonly added: string[];
}

/**
 * The old pip list `pak` against the Nix flake's distributions and modules for the same layer
 * (layers/flake.ts). `provides` maps a pip distribution to a module a Nix package gives
 * instead (nixpkgs' opencv4 gives `cv2`, which opencv-python would have).
 */
export function listDifferences(pak: Pak, nixDists: readonly string[], dir?: string): ListDifference {
    const old = pakDistributions(pak, dir).map(normalizeDistribution);
    const nix = nixDists.map(normalizeDistribution);
    return { dropped: old.filter((d) => !nix.includes(d)), added: nix.filter((d) => !old.includes(d)) };
}
