// The signing commands (lib/commands/sign.ts): cosign's tag scheme, what the own-store-paths step
// prints, and how the key and its password reach cosign (secret environment, env://, COSIGN_PASSWORD).
import * as pulumi from "@pulumi/pulumi";
import { OWN_STORE_PATHS_SCRIPT, SIGN_SCRIPT, attachmentTag, attachmentTags, parseOwnStorePaths, signEnv } from ".";

const D = `sha256:${"a".repeat(64)}`;

test("cosign's tags for a digest: sha256-<hex>.sig and .att (and .sbom, which retention deletes too)", () => {
    expect(attachmentTag(D, "sig")).toBe(`sha256-${"a".repeat(64)}.sig`);
    expect(attachmentTag(D, "att")).toBe(`sha256-${"a".repeat(64)}.att`);
    expect(attachmentTags(D)).toEqual(["sig", "att", "sbom"].map((k) => `sha256-${"a".repeat(64)}.${k}`));
});

describe("parseOwnStorePaths", () => {
    test("the blob, its store paths and the path infos", () => {
        const p = parseOwnStorePaths(`${D}\n/nix/store/a-x\n/nix/store/b-y\n--\n{"/nix/store/a-x":{}}\n`);
        expect(p).toEqual({ blob: D, paths: ["/nix/store/a-x", "/nix/store/b-y"], pathInfo: '{"/nix/store/a-x":{}}' });
    });
    test("a blob without store paths", () => {
        expect(parseOwnStorePaths(`${D}\n--\n{}\n`)).toEqual({ blob: D, paths: [], pathInfo: "{}" });
    });
    test("anything else fails", () => {
        expect(() => parseOwnStorePaths("oops\n--\n{}")).toThrow("the own store paths step printed no blob digest: oops");
        expect(() => parseOwnStorePaths(`${D}\n/nix/store/a-x\n`)).toThrow("printed no blob digest");
    });
});

describe("signing's secrets", () => {
    test("the key and its password are secret environment, whatever the caller passed", async () => {
        const env = signEnv({ layer: "l", imageRef: "r@" + D, registry: "ghcr.io", key: { privateKey: pulumi.output("KEY"), password: pulumi.output("PW"), publicKey: "PEM" } });
        expect(await pulumi.isSecret(env.LAYERSTACK_SIGNING_KEY as pulumi.Output<string>)).toBe(true);
        expect(await pulumi.isSecret(env.LAYERSTACK_SIGNING_KEY_PASSWORD as pulumi.Output<string>)).toBe(true);
        expect(env.LAYERSTACK_SIGNING_PUBLIC_KEY).toBe("PEM");
    });

    test("cosign gets the key by the variable's name (env://), the password as COSIGN_PASSWORD, and neither is ever expanded into an argument", () => {
        expect(SIGN_SCRIPT).toContain("--key env://LAYERSTACK_SIGNING_KEY");
        expect(SIGN_SCRIPT).toContain("COSIGN_PASSWORD=$LAYERSTACK_SIGNING_KEY_PASSWORD");
        expect(SIGN_SCRIPT).not.toMatch(/\$\{?LAYERSTACK_SIGNING_KEY\b(?!_PASSWORD)/);
        expect(SIGN_SCRIPT.match(/\$\{?LAYERSTACK_SIGNING_KEY_PASSWORD/g)).toHaveLength(1);
        expect(SIGN_SCRIPT).toContain("unset LAYERSTACK_SIGNING_KEY_PASSWORD");
        // No transparency log, no Fulcio: a key pair, offline.
        expect(SIGN_SCRIPT.match(/--tlog-upload=false/g)).toHaveLength(3);
        expect(SIGN_SCRIPT).not.toContain("--new-bundle-format");
    });

    test("the blob is read with the registry password from a netrc file or a bearer token from a header file, never argv", () => {
        expect(OWN_STORE_PATHS_SCRIPT).toContain('--netrc-file "$tmp/netrc"');
        expect(OWN_STORE_PATHS_SCRIPT).toContain('-H "@$tmp/authorization"');
        expect(OWN_STORE_PATHS_SCRIPT).not.toMatch(/curl[^\n]*\$pw/);
        expect(OWN_STORE_PATHS_SCRIPT).not.toMatch(/curl[^\n]*\$token/);
    });
});
