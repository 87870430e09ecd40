// A cache the daemon ignores, read from what Nix 2.26.3 printed for an untrusted user
// (test/nix-recorded/record.sh), and asked of this machine's daemon as root (trusted).
import * as fs from "fs";
import * as path from "path";
import { DEV_NIX_CONFIG } from "../test/support/stack";
import { cacheTrustProblem, checkCacheTrust, ignoredSubstituters } from "./nixTrust";

const stderr = fs.readFileSync(path.join(__dirname, "../test/nix-recorded/2.26.3/store-info-untrusted.stderr"), "utf8");

test("the daemon's warning names the substituter it ignores", () => {
    expect(ignoredSubstituters(stderr)).toEqual(["file:///var/cache/untrusted"]);
    expect(JSON.parse(fs.readFileSync(path.join(__dirname, "../test/nix-recorded/2.26.3/store-info-untrusted.json"), "utf8"))).toEqual({ trusted: 0, url: "daemon", version: "2.26.3" });
});

test("the problem names the cache and the daemon settings to add", () => {
    expect(cacheTrustProblem("file:///var/cache/untrusted", ["untrusted-1:AAAA"], stderr)).toBe([
        "binary cache file:///var/cache/untrusted: the Nix daemon ignores it, because this user is not in its trusted-users, so nothing is substituted from it and every path it holds is built from source.",
        "Let the daemon trust the cache: add to its nix.conf (/etc/nix/nix.conf on most hosts), then restart nix-daemon:",
        "  extra-trusted-substituters = file:///var/cache/untrusted",
        "  extra-trusted-public-keys = untrusted-1:AAAA",
        "(or add this user to trusted-users). README: \"Going to production\", the GPU host.",
    ].join("\n"));
    // A trailing slash is the same substituter to the daemon (daemon.cc setSubstituters).
    expect(cacheTrustProblem("file:///var/cache/untrusted/", [], stderr)).toContain("binary cache file:///var/cache/untrusted/: the Nix daemon ignores it");
    expect(cacheTrustProblem("https://other.cachix.org", [], stderr)).toBeUndefined();
});

test("root is trusted by this machine's daemon: no problem", () => {
    expect(checkCacheTrust("file:///tmp/layerstack-trust-unit", [], DEV_NIX_CONFIG)).toBeUndefined();
});
