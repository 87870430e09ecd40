import * as pulumi from "@pulumi/pulumi";
import * as github from "@pulumi/github";

export interface GithubActionsArgs {
    /** User or organization that owns the repository. */
    readonly owner: string;
    /** Repository name, without the owner. */
    readonly repository: string;
    /** GitHub token for the provider (repo and admin scope); must be a secret. */
    readonly token: pulumi.Input<string>;
    /** The Cachix cache the workflow pushes to. @default none: CACHIX_ENABLED is "false" */
    readonly cachix?: { readonly cacheName: string; readonly authToken: pulumi.Input<string> };
}

/**
 * The repository's GitHub Actions settings: secrets for the tokens, and variables for the
 * switches, because GitHub does not allow secrets in `if:` conditions
 * (`if: vars.CACHIX_ENABLED == 'true'` works; `if: secrets.X != ''` does not).
 * No registry token: the workflow's `up` pushes with the stack's own `registryPassword`
 * (decrypted by Pulumi), so a copy as an Actions secret would only be one more place to leak it.
 */
export class GithubActions extends pulumi.ComponentResource {
    public readonly provider: github.Provider;
    public readonly secrets: Readonly<Record<string, github.ActionsSecret>>;
    public readonly variables: Readonly<Record<string, github.ActionsVariable>>;

    constructor(name: string, args: GithubActionsArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:GithubActions", name, {}, opts);
        this.provider = new github.Provider(`${name}-provider`, { owner: args.owner, token: pulumi.secret(args.token) }, { parent: this });
        const child = { parent: this, provider: this.provider };
        const repository = args.repository;

        const secrets: Record<string, github.ActionsSecret> = {};
        if (args.cachix) {
            secrets.CACHIX_AUTH_TOKEN = new github.ActionsSecret(`${name}-cachix-auth-token`, {
                repository, secretName: "CACHIX_AUTH_TOKEN", value: pulumi.secret(args.cachix.authToken),
            }, child);
        }

        const variables: Record<string, github.ActionsVariable> = {
            CACHIX_ENABLED: new github.ActionsVariable(`${name}-cachix-enabled`, {
                repository, variableName: "CACHIX_ENABLED", value: args.cachix ? "true" : "false",
            }, child),
        };
        if (args.cachix) {
            variables.CACHIX_CACHE_NAME = new github.ActionsVariable(`${name}-cachix-cache-name`, {
                repository, variableName: "CACHIX_CACHE_NAME", value: args.cachix.cacheName,
            }, child);
        }
        this.secrets = secrets;
        this.variables = variables;
        this.registerOutputs({ secretNames: Object.keys(secrets), variableNames: Object.keys(variables) });
    }
}
