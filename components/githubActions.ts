import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";
import { LayerstackError } from "../lib/errors";

export interface GithubActionsArgs {
    /** User or organization that owns the repository. */
    readonly owner: string;
    /** Repository name, without the owner. */
    readonly repository: string;
    /** GitHub token for the provider (repo and admin scope); must be a secret. */
    readonly token: pulumi.Input<string>;
    /**
     * The stack's variant (`layerstack:variant`, e.g. `cu130`): every secret and variable name ends
     * with it (`CACHIX_ENABLED_CU130`), so two stacks on one repository never share one.
     */
    readonly variant: string;
    /** The Cachix cache the workflow pushes to. @default none: CACHIX_ENABLED_<VARIANT> is "false" */
    readonly cachix?: { readonly cacheName: string; readonly authToken: pulumi.Input<string> };
}

/**
 * The suffix a variant gives its Actions names: upper case, anything but a letter or digit an
 * underscore (GitHub names are `[A-Z0-9_]`, case-insensitive, and GitHub stores them upper case).
 */
export function actionsNameSuffix(variant: string): string {
    const s = variant.toUpperCase().replace(/[^A-Z0-9]/g, "_");
    if (!/^[A-Z0-9_]+$/.test(s)) throw new LayerstackError(`GithubActions: variant ${JSON.stringify(variant)} gives no Actions name suffix`);
    return s;
}

/** The Actions names a stack of `variant` owns, as the workflow reads them (`vars[format('CACHIX_ENABLED_{0}', matrix.vars)]`). */
export function actionsNames(variant: string): { enabled: string; cacheName: string; authToken: string } {
    const s = actionsNameSuffix(variant);
    return { enabled: `CACHIX_ENABLED_${s}`, cacheName: `CACHIX_CACHE_NAME_${s}`, authToken: `CACHIX_AUTH_TOKEN_${s}` };
}

/**
 * The repository's GitHub Actions settings: secrets for the tokens, and variables for the
 * switches, because GitHub does not allow secrets in `if:` conditions
 * (`if: vars.CACHIX_ENABLED_CU130 == 'true'` works; `if: secrets.X != ''` does not).
 * No registry token: the workflow's `up` pushes with the stack's own `registryPassword`
 * (decrypted by Pulumi), so a copy as an Actions secret would only be one more place to leak it.
 *
 * Each name carries the stack's variant, so each stack owns what it creates: the github
 * provider creates a variable with `POST /repos/{owner}/{repo}/actions/variables`, no upsert
 * (integrations/terraform-provider-github, github/resource_github_actions_variable.go,
 * resourceGithubActionsVariableCreate calls Actions.CreateRepoVariable), which GitHub answers
 * 409 for a name that exists; and its delete removes the name whoever else reads it
 * (resourceGithubActionsVariableDelete). A secret is a PUT, an upsert
 * (github/resource_github_actions_secret.go), so two stacks sharing one would overwrite each
 * other's token, and a destroy of either would delete it.
 */
export class GithubActions extends pulumi.ComponentResource {
    public readonly provider: github.Provider;
    public readonly secrets: Readonly<Record<string, github.ActionsSecret>>;
    public readonly variables: Readonly<Record<string, github.ActionsVariable>>;

    constructor(name: string, args: GithubActionsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:GithubActions", name, {}, opts);
        const names = actionsNames(args.variant);
        this.provider = new github.Provider(`${name}-provider`, { owner: args.owner, token: pulumi.secret(args.token) }, { parent: this });
        const child = { parent: this, provider: this.provider };
        const repository = args.repository;

        const secrets: Record<string, github.ActionsSecret> = {};
        if (args.cachix) {
            secrets[names.authToken] = new github.ActionsSecret(`${name}-cachix-auth-token`, {
                repository, secretName: names.authToken, value: pulumi.secret(args.cachix.authToken),
            }, child);
        }

        const variables: Record<string, github.ActionsVariable> = {
            [names.enabled]: new github.ActionsVariable(`${name}-cachix-enabled`, {
                repository, variableName: names.enabled, value: args.cachix ? "true" : "false",
            }, child),
        };
        if (args.cachix) {
            variables[names.cacheName] = new github.ActionsVariable(`${name}-cachix-cache-name`, {
                repository, variableName: names.cacheName, value: args.cachix.cacheName,
            }, child);
        }
        this.secrets = secrets;
        this.variables = variables;
        this.registerOutputs({ secretNames: Object.keys(secrets), variableNames: Object.keys(variables) });
    }
}
