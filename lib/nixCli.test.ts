// The Nix on PATH: its version read as Nix prints it, and the minimum refused with the real Nix 2.8.
import * as fs from "fs";
import * as path from "path";
import { compareVersions, configShowArgs, onPath, parseNixVersion, requireNix, storeInfoArgs } from "./nixCli";

const REPO = path.join(__dirname, "..");
const OLD_NIX_BIN = path.join(REPO, ".layerstack/nix/old-bin");

test("the version as Nix 2.26.3 printed it (test/nix-recorded), as 2.8 prints it, and with a distribution's suffix", () => {
    expect(parseNixVersion(fs.readFileSync(path.join(REPO, "test/nix-recorded/2.26.3/version.txt"), "utf8"))).toBe("2.26.3");
    expect(parseNixVersion("nix (Nix) 2.8.0\n")).toBe("2.8.0");
    expect(parseNixVersion("nix (Nix) 2.24.10pre20241001_dirty\n")).toBe("2.24.10");
    expect(parseNixVersion("Lix 2.91")).toBeUndefined();
});

test("versions compare by number, not as text", () => {
    expect(compareVersions("2.8.0", "2.18")).toBe(-1);
    expect(compareVersions("2.18", "2.18.0")).toBe(0);
    expect(compareVersions("2.26.3", "2.18")).toBe(1);
    expect(compareVersions("3.0", "2.99.9")).toBe(1);
});

test("the config and store-info commands by version", () => {
    expect(configShowArgs({ path: "nix", version: "2.18.9" })).toEqual(["show-config", "--json"]);
    expect(configShowArgs({ path: "nix", version: "2.20.0" })).toEqual(["config", "show", "--json"]);
    expect(storeInfoArgs({ path: "nix", version: "2.18.1" })).toEqual(["store", "ping", "--json"]);
    expect(storeInfoArgs({ path: "nix", version: "2.26.3" })).toEqual(["store", "info", "--json"]);
});

test("Debian bookworm's real Nix 2.8 first on PATH is refused, naming it and the minimum", () => {
    const PATH = `${OLD_NIX_BIN}:${process.env.PATH}`;
    expect(() => requireNix({ ...process.env, PATH })).toThrow(
        `the nix first on PATH (${OLD_NIX_BIN}/nix) is Nix 2.8.0, older than 2.18: layerstack needs Nix 2.18 or newer, the oldest nixpkgs evaluates on (its lib/minver.nix). Install a current Nix (https://nixos.org/download) or put one first on PATH`);
});

test("the dev toolchain's Nix passes, and no nix at all is named", () => {
    const cli = requireNix(process.env);
    expect(cli.path).toBe(onPath("nix"));
    expect(compareVersions(cli.version, "2.26")).toBeGreaterThanOrEqual(0);
    expect(() => requireNix({ PATH: "/nonexistent" })).toThrow("nix is not on PATH: layerstack needs Nix 2.18 or newer (https://nixos.org/download); for the dev stack, run scripts/toolchain.sh");
});
