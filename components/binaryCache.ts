import * as pulumi from "@pulumi/pulumi";
import * as command from "@pulumi/command";
import { cacheNetrc, cachixInfoEnv, cachixPushEnv, nixCopyPushEnv, parseCachixInfo, scriptStub } from "../lib/commands";
import { DEFAULT_CACHIX_API_URL, trimUrl } from "../lib/defaults";
import { cachePushName } from "../lib/naming";

/** A layer closure to push: the derivation whose output (and its closure) goes to the cache. */
export interface CacheClosure {
    /** Names the push child: `<cache name>-push-<id>`. */
    readonly id: string;
    /** The derivation whose output's closure is pushed. */
    readonly drvPath: string;
    /** What must finish first, typically the layer's build. @default none */
    readonly dependsOn?: pulumi.Resource[];
}

interface CommonArgs {
    /** Closures pushed to the cache, one child command each. @default [] */
    readonly closures?: readonly CacheClosure[];
    /**
     * Nix settings (nix.conf lines) the pushes run with, in front of the caller's NIX_CONFIG:
     * the stack's `layerstack:nixConfig`. @default none (the system's Nix as it is)
     */
    readonly nixConfig?: pulumi.Input<string>;
}

/** An existing Cachix cache, adopted by name (Cachix has no public API to create caches or tokens). */
export interface CachixCacheArgs extends CommonArgs {
    /** Which kind of cache: a Cachix cache. */
    readonly kind: "cachix";
    /** The cache's name on app.cachix.org. @example "megapak" */
    readonly name: string;
    /** Auth token for `cachix push` and for reading a private cache's info; must be a secret. */
    readonly authToken: pulumi.Input<string>;
    /**
     * The signing key of a cache with a self-generated key (`cachix generate-keypair`); cachix
     * signs with it locally. Must be a secret. @default none (Cachix signs)
     */
    readonly signingKey?: pulumi.Input<string>;
    /** Cachix API base, e.g. a local server in a test. @default DEFAULT_CACHIX_API_URL ("https://app.cachix.org/api/v1") */
    readonly apiUrl?: string;
}

/** Any Nix store URL (`file://`, `s3://`, `ssh-ng://`, ...), pushed to with `nix copy --to`. */
export interface NixStoreCacheArgs extends CommonArgs {
    /** Which kind of cache: a Nix store URL. */
    readonly kind: "nix-store";
    /** The store URL. @example "file:///var/cache/nix", "s3://bucket?region=eu-west-1", "ssh-ng://cache.example.com" */
    readonly url: string;
    /** `name:base64` public key builds trust for this cache. @default none (unsigned) */
    readonly publicKey?: string;
    /** Nix secret key the pushed paths are signed with; must be a secret. @default none */
    readonly signingKey?: pulumi.Input<string>;
}

export type BinaryCacheArgs = CachixCacheArgs | NixStoreCacheArgs;

/** Nix settings that make builds substitute from the cache (`NIX_CONFIG` text). */
export function substituterConfig(substituter: string, publicKeys: readonly string[]): string {
    return [`extra-substituters = ${substituter}`, ...(publicKeys.length ? [`extra-trusted-public-keys = ${publicKeys.join(" ")}`] : [])].join("\n");
}

/**
 * A Nix binary cache with one interface for both kinds: it tells builds where to
 * substitute from (`substituter`, `publicKeys`, `nixConfig`) and pushes each given
 * closure. A push that fails (cache outage) fails its own command only, with a message
 * saying so; nothing is recorded and the next `up` pushes again.
 */
export class BinaryCache extends pulumi.ComponentResource {
    public readonly kind: BinaryCacheArgs["kind"];
    /** The substituter URL, e.g. `https://megapak.cachix.org` or the store URL. */
    public readonly substituter: pulumi.Output<string>;
    /** Public keys to trust for the substituter. */
    public readonly publicKeys: pulumi.Output<string[]>;
    /** `extra-substituters` / `extra-trusted-public-keys` lines, for `NIX_CONFIG`. */
    public readonly nixConfig: pulumi.Output<string>;
    /** `nixConfig` as text, when it is known as the cache is declared (a nix-store cache: its URL and key are config). */
    public readonly knownNixConfig?: string;
    /**
     * The netrc a private Cachix cache needs for Nix to substitute from it (secret; empty for a
     * public cache): every build and push that realises a layer runs with it (WITH_NETRC,
     * lib/commands/cache.ts). Undefined for a nix-store cache, whose URL carries its own access.
     */
    public readonly netrc?: pulumi.Output<string>;
    /** The Cachix info read (cachix only). */
    public readonly info?: command.local.Command;
    private readonly name: string;
    private readonly args: BinaryCacheArgs;
    private readonly pushMap = new Map<string, command.local.Command>();

    constructor(name: string, args: BinaryCacheArgs, opts?: pulumi.ComponentResourceOptions) {
        super("layerstack:index:BinaryCache", name, {}, opts);
        this.kind = args.kind;
        if (args.kind === "cachix") {
            const apiUrl = trimUrl(args.apiUrl ?? DEFAULT_CACHIX_API_URL);
            this.info = new command.local.Command(`${name}-info`, {
                create: scriptStub(`${name}-info`),
                environment: cachixInfoEnv({ apiUrl, cache: args.name, authToken: args.authToken }),
                triggers: [apiUrl, args.name],
                logging: "stderr",
            }, { parent: this });
            const info = this.info.stdout.apply((s) => parseCachixInfo(s, args.name));
            this.substituter = info.uri;
            this.publicKeys = info.publicSigningKeys;
            this.netrc = pulumi.secret(pulumi.all([info, args.authToken]).apply(([i, token]) => (i.isPublic === false ? cacheNetrc(i.uri, token) : "")));
        } else {
            this.substituter = pulumi.output(args.url);
            this.publicKeys = pulumi.output(args.publicKey ? [args.publicKey] : []);
            this.knownNixConfig = substituterConfig(args.url, args.publicKey ? [args.publicKey] : []);
        }
        this.name = name;
        this.args = args;
        for (const c of args.closures ?? []) this.addClosure(c);
        this.nixConfig = pulumi.all([this.substituter, this.publicKeys]).apply(([s, k]) => substituterConfig(s, k));
        this.registerOutputs({ substituter: this.substituter, publicKeys: this.publicKeys, nixConfig: this.nixConfig });
    }

    /** One push per closure, keyed by closure id. */
    get pushes(): ReadonlyMap<string, command.local.Command> {
        return this.pushMap;
    }

    /**
     * Pushes one more closure (a child `<cache name>-push-<id>`), e.g. a layer declared after
     * the cache because its build substitutes from it (`nixConfig`).
     */
    addClosure(c: CacheClosure): command.local.Command {
        const args = this.args;
        const name = cachePushName(this.name, c.id);
        if (this.pushMap.has(c.id)) throw new Error(`binary cache ${this.name}: closure ${c.id} is pushed twice`);
        const closure = { id: c.id, drvPath: c.drvPath, nixConfig: args.nixConfig, signingKey: args.signingKey };
        const push = new command.local.Command(name, {
            create: scriptStub(name),
            environment: args.kind === "cachix" ? cachixPushEnv({ ...closure, cache: args.name, authToken: args.authToken, netrc: this.netrc }) : nixCopyPushEnv({ ...closure, url: args.url }),
            triggers: [c.drvPath, args.kind === "cachix" ? `cachix:${args.name}` : args.url],
            logging: "stderr",
        }, { parent: this, dependsOn: c.dependsOn });
        this.pushMap.set(c.id, push);
        return push;
    }
}
