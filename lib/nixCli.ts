// The `nix` a stack runs: which one is first on PATH, its version, and the version-dependent
// parts of its command line. Read against NixOS/nix 2.18 to 2.26 (tags 2.18.0, 2.20.0, 2.26.3):
// - `nix --version` prints "nix (Nix) 2.26.3" (src/libmain/shared.cc printVersion); distributions
//   may add text after the number ("2.26.3+dfsg"), so only the leading numbers are read.
// - `nix show-config` became `nix config show` in 2.20 (src/nix/config.cc); 2.20 and later keep
//   the old name as an alias that warns "'show-config' is a deprecated alias for 'config show'".
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { NIX_MIN_VERSION } from "./defaults";
import { LayerstackError } from "./errors";

/** The `nix` on PATH: where it is and the version it reports. */
export interface NixCli {
    readonly path: string;
    /** As `nix --version` prints it, e.g. "2.26.3". */
    readonly version: string;
}

/** The leading `major.minor[.patch]` of `nix --version`'s answer, or undefined. */
export function parseNixVersion(text: string): string | undefined {
    return /^nix \(Nix\) (\d+\.\d+(?:\.\d+)?)/m.exec(text.trim())?.[1];
}

/** -1, 0 or 1 as `a` is older than, the same as, or newer than `b` (dotted numbers). */
export function compareVersions(a: string, b: string): number {
    const x = a.split(".").map(Number), y = b.split(".").map(Number);
    for (let i = 0; i < Math.max(x.length, y.length); i++) {
        const d = (x[i] ?? 0) - (y[i] ?? 0);
        if (d) return Math.sign(d);
    }
    return 0;
}

/** The first executable `prog` on `PATH`, as a shell finds it. */
export function onPath(prog: string, PATH = process.env.PATH ?? ""): string | undefined {
    for (const dir of PATH.split(":")) {
        const p = path.join(dir || ".", prog);
        try {
            if (fs.statSync(p).isFile()) { fs.accessSync(p, fs.constants.X_OK); return p; }
        } catch { /* not here */ }
    }
    return undefined;
}

const seen = new Map<string, NixCli>();

/**
 * The `nix` first on `env.PATH`, refused when it is missing or older than NIX_MIN_VERSION,
 * with a message that names what was found. Asked once per program run and PATH.
 */
export function requireNix(env: NodeJS.ProcessEnv = process.env): NixCli {
    const PATH = env.PATH ?? "";
    const known = seen.get(PATH);
    if (known) return known;
    const nix = onPath("nix", PATH);
    if (!nix) throw new LayerstackError(`nix is not on PATH: layerstack needs Nix ${NIX_MIN_VERSION} or newer (https://nixos.org/download); for the dev stack, run scripts/toolchain.sh`);
    const r = spawnSync(nix, ["--version"], { env, encoding: "utf8" });
    const version = parseNixVersion(r.stdout ?? "");
    if (r.status !== 0 || !version) {
        throw new LayerstackError(`${nix} --version did not answer with a Nix version (exit ${r.status}): ${((r.stderr ?? "") + (r.stdout ?? "")).trim().split("\n").slice(-3).join(" ")}`);
    }
    if (compareVersions(version, NIX_MIN_VERSION) < 0) {
        throw new LayerstackError(`the nix first on PATH (${nix}) is Nix ${version}, older than ${NIX_MIN_VERSION}: layerstack needs Nix ${NIX_MIN_VERSION} or newer, the oldest nixpkgs evaluates on (its lib/minver.nix). Install a current Nix (https://nixos.org/download) or put one first on PATH`);
    }
    const cli = { path: nix, version };
    seen.set(PATH, cli);
    return cli;
}

/** `nix config show` (2.20 and later) or `nix show-config` (2.18, 2.19), with `--json`. */
export function configShowArgs(cli: NixCli): string[] {
    return compareVersions(cli.version, "2.20") >= 0 ? ["config", "show", "--json"] : ["show-config", "--json"];
}

/** `nix store info` (2.19 and later, src/nix/store-info.cc) or `nix store ping` (2.18, src/nix/ping-store.cc), with `--json`. */
export function storeInfoArgs(cli: NixCli): string[] {
    return compareVersions(cli.version, "2.19") >= 0 ? ["store", "info", "--json"] : ["store", "ping", "--json"];
}
