import { isLoopbackRegistry, nameProblem, PATH_COMPONENT, TAG } from "./reference";
import { LAYER_ID } from "./graph";
import { tlsVerify } from "./commands";

describe("the OCI distribution reference grammar", () => {
    test.each([
        ["layer01-base-cuda", true], ["a", true], ["a.b", true], ["a_b", true], ["a__b", true], ["a---b", true],
        ["base..cuda", false], ["a___b", false], ["a._b", false], ["-a", false], ["a-", false], [".a", false], ["Base", false], ["", false],
    ])("path component %j: %s", (s, ok) => {
        expect(PATH_COMPONENT.test(s)).toBe(ok);
        expect(LAYER_ID.test(s)).toBe(ok);
    });

    test("a layer id has at most 64 characters", () => {
        expect(LAYER_ID.test("a".repeat(64))).toBe(true);
        expect(LAYER_ID.test("a".repeat(65))).toBe(false);
    });

    test("tags: a word character first, at most 128", () => {
        expect(TAG.test("cu130-0123456789abcdfghijklmnpqrsvwxyz")).toBe(true);
        expect(TAG.test("-x")).toBe(false);
        expect(TAG.test("a".repeat(129))).toBe(false);
    });

    test("an image name counts its registry too, up to 255 characters", () => {
        const path = "p".repeat(255 - "ghcr.io/".length);
        expect(nameProblem("ghcr.io", path)).toBeUndefined();
        expect(nameProblem("ghcr.io", path + "p")).toBe(`"ghcr.io/${path}p" is 256 characters; an image name may have at most 255`);
        expect(nameProblem("ghcr.io", "owner/Mega")).toBe('"owner/Mega" is not a repository path');
    });
});

describe("loopback registries, in any case", () => {
    test.each([
        ["127.0.0.1:5000", true], ["localhost:5000", true], ["LOCALHOST:5000", true], ["LocalHost", true], ["[::1]:5000", true],
        ["127.1.2.3", true], ["ghcr.io", false], ["localhost.example.com", false], ["10.0.0.1:5000", false],
    ])("%s: %s", (registry, loopback) => {
        expect(isLoopbackRegistry(registry)).toBe(loopback);
        // The pushes, checks and promotions reach loopback over plain HTTP, everything else over TLS.
        expect(tlsVerify(registry)).toBe(!loopback);
    });
});
