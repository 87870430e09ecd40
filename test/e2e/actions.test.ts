// Two production-shaped stacks (cu130 and cu128, their Pulumi.<stack>.yaml plus what a user sets)
// on one repository, against a stand-in of GitHub's Actions variables and secrets endpoints
// (test/support/github-standin.js) that, as GitHub does, answers 409 to a second create of a
// variable. The github provider cannot run here (no plugin, no network), so Pulumi's mocks stand
// in for it, and do what it does against the REST API: terraform-provider-github creates a
// variable with POST /repos/{owner}/{repo}/actions/variables (resourceGithubActionsVariableCreate,
// no upsert), a secret with PUT .../actions/secrets/{name} (CreateOrUpdateRepoSecret), and deletes
// each by name (resourceGithubActionsVariableDelete, DeleteRepoSecret).
import * as fs from "fs";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { parse } from "yaml";
import { GithubStandin } from "../support/githubStandin";
import { REPO } from "../support/stack";

const GH_TOKEN = "ghp_actions-standin-token";
const api = new GithubStandin(5710, { tokens: [GH_TOKEN], repo: "owner/megapak" });

interface Created { stack: string; type: string; name: string; status: number; method: string; path: string }
const created: Created[] = [];
let stackName = "";

async function gh(method: string, p: string, body?: unknown): Promise<number> {
    const r = await fetch(`${api.url}/repos/owner/megapak${p}`, {
        method, headers: { authorization: `Bearer ${GH_TOKEN}`, "content-type": "application/json" }, body: body === undefined ? undefined : JSON.stringify(body),
    });
    return r.status;
}

/** The github provider's create, as terraform-provider-github does it; every other resource is only recorded. */
function installProviderMocks(stack: string): void {
    stackName = stack;
    pulumi.runtime.setMocks({
        async newResource(args) {
            const i = args.inputs as Record<string, string>;
            if (args.type === "github:index/actionsVariable:ActionsVariable") {
                const status = await gh("POST", "/actions/variables", { name: i.variableName, value: i.value });
                created.push({ stack, type: "variable", name: i.variableName, status, method: "POST", path: "/actions/variables" });
            } else if (args.type === "github:index/actionsSecret:ActionsSecret") {
                // The provider encrypts the value with the repository's public key; the stand-in keeps a hash of what it gets.
                const status = await gh("PUT", `/actions/secrets/${i.secretName}`, { encrypted_value: "sealed", key_id: "1" });
                created.push({ stack, type: "secret", name: i.secretName, status, method: "PUT", path: `/actions/secrets/${i.secretName}` });
            }
            return { id: `${args.name}-id`, state: args.inputs };
        },
        call(args) { throw new Error(`unexpected invoke ${args.token}`); },
    }, "layerstack", stack, false);
}

/** A stack's GithubActions args, as the program gets them: its Pulumi.<stack>.yaml, the keys a user sets, settings/. */
async function githubArgs(stack: string, file: string) {
    const { rawConfigFromJson, stackArgs, validateConfig } = await import("../../settings");
    const yaml = parse(fs.readFileSync(path.join(REPO, `Pulumi.${file}.yaml`), "utf8")).config as Record<string, unknown>;
    const json: Record<string, { value?: string; objectValue?: unknown; secret?: boolean }> = {};
    for (const [k, v] of Object.entries(yaml)) json[k] = typeof v === "string" ? { value: v } : { objectValue: v, value: JSON.stringify(v) };
    Object.assign(json, {
        "layerstack:flake": { value: "github:owner/megapak-flake" },
        "layerstack:repository": { value: "owner/megapak" },
        "layerstack:cachixCache": { value: "megapak" },
        "layerstack:githubOwner": { value: "owner" },
        "layerstack:githubRepository": { value: "megapak" },
        "layerstack:githubApiUrl": { value: api.url },
        "layerstack:cachixAuthToken": { secret: true },
        "layerstack:githubToken": { secret: true },
    });
    const v = validateConfig(rawConfigFromJson(json), { stack, projectDir: REPO });
    const args = stackArgs(v, { githubToken: pulumi.secret(GH_TOKEN), cachixAuthToken: pulumi.secret("cachix-token") }).github;
    if (!args) throw new Error(`stack ${stack} declares no GitHub Actions settings`);
    return args;
}

/** Declares the stack's GithubActions (as index.ts does) and waits for the provider's creates. */
async function up(stack: string, file = stack): Promise<Created[]> {
    installProviderMocks(stack);
    const { GithubActions } = await import("../../components/githubActions");
    const { STACK_COMPONENTS } = await import("../../lib/naming");
    const before = created.length;
    const gh = new GithubActions(STACK_COMPONENTS.github, await githubArgs(stack, file));
    const expected = Object.keys(gh.variables).length + Object.keys(gh.secrets).length;
    for (let i = 0; i < 200 && created.length - before < expected; i++) await new Promise((r) => setTimeout(r, 25));
    expect(created.length - before).toBe(expected);
    return created.slice(before);
}

/** What the provider does at destroy: delete each of the stack's secrets and variables by name. */
async function destroy(stack: string): Promise<number[]> {
    const mine = created.filter((c) => c.stack === stack && c.status < 300);
    return Promise.all(mine.map((c) => gh("DELETE", c.type === "variable" ? `/actions/variables/${c.name}` : c.path)));
}

beforeAll(() => api.start());
afterAll(() => api.dispose());

test("the stand-in is GitHub's shape: a second create of a variable is 409, a secret's PUT is an upsert", async () => {
    expect(await gh("POST", "/actions/variables", { name: "PROBE", value: "1" })).toBe(201);
    expect(await gh("POST", "/actions/variables", { name: "probe", value: "2" })).toBe(409);
    expect(await gh("PUT", "/actions/secrets/PROBE", { encrypted_value: "a" })).toBe(201);
    expect(await gh("PUT", "/actions/secrets/PROBE", { encrypted_value: "b" })).toBe(204);
    expect(await gh("DELETE", "/actions/variables/PROBE")).toBe(204);
    expect(await gh("DELETE", "/actions/secrets/PROBE")).toBe(204);
    expect(api.actions()).toEqual({ variables: {}, secrets: {} });
});

test("two stacks whose names do not carry the variant collide: the second stack's creates get 409", async () => {
    // Two stacks of one variant (both from Pulumi.cu130.yaml): the same names, as every stack had
    // before the names carried the variant.
    const first = await up("cu130-shared-a", "cu130");
    const second = await up("cu130-shared-b", "cu130");
    expect(first.filter((c) => c.type === "variable").map((c) => c.status)).toEqual([201, 201]);
    expect(second.filter((c) => c.type === "variable").map((c) => c.status)).toEqual([409, 409]);
    // Clean up what the first one made, as its destroy would.
    expect(await destroy("cu130-shared-a")).toEqual([204, 204, 204]);
    expect(api.actions()).toEqual({ variables: {}, secrets: {} });
});

test("cu130 and cu128 on one repository: each creates its own names, none is refused", async () => {
    const cu130 = await up("cu130");
    const cu128 = await up("cu128");
    expect([...cu130, ...cu128].map((c) => `${c.stack} ${c.method} ${c.name} ${c.status}`).sort()).toEqual([
        "cu128 POST CACHIX_CACHE_NAME_CU128 201", "cu128 POST CACHIX_ENABLED_CU128 201", "cu128 PUT CACHIX_AUTH_TOKEN_CU128 201",
        "cu130 POST CACHIX_CACHE_NAME_CU130 201", "cu130 POST CACHIX_ENABLED_CU130 201", "cu130 PUT CACHIX_AUTH_TOKEN_CU130 201",
    ]);
    const held = api.actions();
    expect(held.variables).toEqual({
        CACHIX_ENABLED_CU130: "true", CACHIX_CACHE_NAME_CU130: "megapak", CACHIX_ENABLED_CU128: "true", CACHIX_CACHE_NAME_CU128: "megapak",
    });
    expect(Object.keys(held.secrets).sort()).toEqual(["CACHIX_AUTH_TOKEN_CU128", "CACHIX_AUTH_TOKEN_CU130"]);
    // The workflow reads exactly these names for each matrix entry (vars[format('CACHIX_ENABLED_{0}', matrix.vars)]).
    const wf = parse(fs.readFileSync(path.join(REPO, ".github/workflows/layerstack.yml"), "utf8"));
    for (const job of ["preview", "up"]) {
        const include = wf.jobs[job].strategy.matrix.include as { stack: string; vars: string }[];
        expect(include.map((m) => `CACHIX_ENABLED_${m.vars}`).sort()).toEqual(Object.keys(held.variables).filter((n) => n.startsWith("CACHIX_ENABLED_")).sort());
    }
});

test("destroying cu130 deletes only cu130's names: cu128 keeps its variables and its secret", async () => {
    expect(await destroy("cu130")).toEqual([204, 204, 204]);
    const held = api.actions();
    expect(held.variables).toEqual({ CACHIX_ENABLED_CU128: "true", CACHIX_CACHE_NAME_CU128: "megapak" });
    expect(Object.keys(held.secrets)).toEqual(["CACHIX_AUTH_TOKEN_CU128"]);
    expect(stackName).toBe("cu128");
});
