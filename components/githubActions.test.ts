import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecret, valueOf, Recorded } from "../test/support/mocks";

const GH = "ghp_github-SENTINEL";
const CACHIX = "cachix-SENTINEL";
const recorded: Recorded[] = installMocks();

import type * as ghModule from "./githubActions";
let mod: typeof ghModule;
beforeAll(async () => { mod = await import("./githubActions"); });
const find = (name: string) => recorded.find((r) => r.name === name)!;
/** How a secret input reaches the provider: Pulumi's secret envelope around the value. */
const secretInput = (value: string) => ({ "4dabf18193072939515e22adb298388d": "1b47061264138c4ac30d75fd1eb44270", value });

describe("GithubActions", () => {
    test("a provider from the stack's owner and token; secrets for the tokens, variables for the switches", async () => {
        const gh = new mod.GithubActions("gh", {
            owner: "owner", repository: "megapak", token: pulumi.secret(GH), variant: "cu130",
            cachix: { cacheName: "megapak", authToken: pulumi.secret(CACHIX) },
        });
        // No registry token: the workflow pushes with the stack's registryPassword.
        expect(Object.keys(gh.secrets)).toEqual(["CACHIX_AUTH_TOKEN_CU130"]);
        const s = gh.secrets.CACHIX_AUTH_TOKEN_CU130;
        expect(await valueOf(s.secretName)).toBe("CACHIX_AUTH_TOKEN_CU130");
        expect(await valueOf(s.repository)).toBe("megapak");
        expect(await isSecret(s.value as pulumi.Output<unknown>)).toBe(true);
        expect(await valueOf(s.value as pulumi.Output<string>)).toBe(CACHIX);
        expect(await valueOf(gh.variables.CACHIX_ENABLED_CU130.value)).toBe("true");
        expect(await valueOf(gh.variables.CACHIX_CACHE_NAME_CU130.value)).toBe("megapak");
        expect(await isSecret(gh.variables.CACHIX_CACHE_NAME_CU130.value)).toBe(false);

        expect(find("gh-provider").type).toBe("pulumi:providers:github");
        expect(find("gh-provider").inputs.owner).toBe("owner");
        expect(await isSecret(gh.provider.token as pulumi.Output<unknown>)).toBe(true);
        expect(find("gh-cachix-auth-token").type).toBe("github:index/actionsSecret:ActionsSecret");
        expect(recorded.filter((r) => r.name.startsWith("gh-")).map((r) => r.name).sort()).toEqual(["gh-cachix-auth-token", "gh-cachix-cache-name", "gh-cachix-enabled", "gh-provider"]);
        expect(find("gh-cachix-auth-token").inputs).toEqual({ repository: "megapak", secretName: "CACHIX_AUTH_TOKEN_CU130", value: secretInput(CACHIX) });
        expect(find("gh-provider").inputs.token).toEqual(secretInput(GH));
        expect(find("gh-cachix-enabled").inputs).toEqual({ repository: "megapak", variableName: "CACHIX_ENABLED_CU130", value: "true" });
        expect(find("gh-cachix-cache-name").inputs).toEqual({ repository: "megapak", variableName: "CACHIX_CACHE_NAME_CU130", value: "megapak" });
        // No variable carries a secret.
        for (const v of recorded.filter((x) => x.type === "github:index/actionsVariable:ActionsVariable")) {
            expect(JSON.stringify(v.inputs)).not.toMatch(/SENTINEL/);
        }
    });

    test("without Cachix, CACHIX_ENABLED_<VARIANT> is false and no Cachix secret exists", async () => {
        const gh = new mod.GithubActions("nocache", { owner: "owner", repository: "megapak", token: pulumi.secret(GH), variant: "cu128" });
        expect(Object.keys(gh.secrets)).toEqual([]);
        expect(Object.keys(gh.variables)).toEqual(["CACHIX_ENABLED_CU128"]);
        expect(await valueOf(gh.variables.CACHIX_ENABLED_CU128.value)).toBe("false");
        expect(recorded.filter((r) => r.name.startsWith("nocache-")).map((r) => r.name).sort()).toEqual(["nocache-cachix-enabled", "nocache-provider"]);
    });

    test("names carry the variant: upper case, anything but a letter or digit an underscore", () => {
        expect(mod.actionsNames("cu130")).toEqual({ enabled: "CACHIX_ENABLED_CU130", cacheName: "CACHIX_CACHE_NAME_CU130", authToken: "CACHIX_AUTH_TOKEN_CU130" });
        expect(mod.actionsNameSuffix("my-variant.2")).toBe("MY_VARIANT_2");
        expect(mod.actionsNames("cu128").enabled).not.toBe(mod.actionsNames("cu130").enabled);
    });
});
