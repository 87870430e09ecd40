import * as path from "path";
import { RawConfig, validateConfig, absolutizeFlake, stackArgs } from ".";
import { LayerstackError } from "../lib/errors";

const projectDir = path.resolve(__dirname, "..");
const ctx = { stack: "dev", projectDir };
const good: RawConfig = {
    flake: "path:./fixtures/megapak",
    registry: "127.0.0.1:5000",
    repository: "layerstack/megapak",
    hasRegistryPassword: false,
};

/** The LayerstackError validateConfig raises for `raw` in `c`. */
function errorIn(raw: RawConfig, c: { stack: string; projectDir: string }): string {
    try {
        validateConfig(raw, c);
    } catch (e) {
        expect(e).toBeInstanceOf(LayerstackError);
        return (e as Error).message;
    }
    throw new Error("expected a config error");
}

function errorOf(raw: Partial<RawConfig>): string {
    return errorIn({ ...good, ...raw } as RawConfig, ctx);
}

describe("validateConfig", () => {
    test("a minimal stack gets the catalog, absolute flake and defaults", () => {
        const s = validateConfig(good, ctx);
        expect(s.flake).toBe(`path:${projectDir}/fixtures/megapak`);
        expect(s.layers.map((l) => l.id)).toEqual([
            "layer01-base-cuda", "layer02-python-tools", "layer03-gcc15", "layer04-pytorch", "layer05-pak3", "layer06-cupy",
            "layer07-pak5", "layer08-pak7", "layer09-sam", "layer10-performance", "layer11-app", "layer12-comfyui",
        ]);
        expect(s.layers.find((l) => l.id === "layer10-performance")!.parent).toBe("layer09-sam");
        expect(s.system).toBe("x86_64-linux");
        expect(s.variant).toBe("dev");
        expect(s.buildTimeoutSeconds).toBeUndefined();
        expect(s.auth).toBeUndefined();
        expect(s.forecast).toBe(true);
    });

    test("layerstack:containerImage: its layers are the stack's (no catalog), ids and all reach the pipeline", () => {
        const s = validateConfig({ ...good, containerImage: "comfyui", containerLayerIds: ["base", "app"] }, ctx);
        expect(s.layers).toEqual([]);
        expect(stackArgs(s, {}).pipeline.containerImage).toEqual({ attr: "comfyui", layerIds: ["base", "app"] });
        expect(stackArgs(validateConfig(good, ctx), {}).pipeline.containerImage).toBeUndefined();
        // The image is a layer of the stack: layerstack:checks keyed by its attribute apply to it.
        const withChecks = validateConfig({ ...good, containerImage: "comfyui", checks: { comfyui: [{ name: "env", argv: ["env"] }] } }, ctx);
        expect(withChecks.checks.get("comfyui")).toEqual([{ name: "env", argv: ["env"], gpu: undefined }]);
    });

    test("layerstack:repositoryLayout: per-layer by default; single reaches the pipeline", () => {
        expect(validateConfig(good, ctx).repositoryLayout).toBe("per-layer");
        const s = validateConfig({ ...good, repositoryLayout: "single" }, ctx);
        expect(s.repositoryLayout).toBe("single");
        expect(stackArgs(s, {}).pipeline.repositoryLayout).toBe("single");
    });

    test("layerstack:forecast turns the work forecast off, and reaches the pipeline", () => {
        const s = validateConfig({ ...good, forecast: "false" }, ctx);
        expect(s.forecast).toBe(false);
        expect(stackArgs(s, {}).pipeline.forecast).toBe(false);
        expect(stackArgs(validateConfig(good, ctx), {}).pipeline.forecast).toBe(true);
        expect(errorOf({ forecast: "no" })).toBe('layerstack:forecast: "no" must be true or false');
    });

    test.each<[string, Partial<RawConfig>, string]>([
        ["missing flake", { flake: undefined }, "layerstack:flake is required"],
        ["bad flake", { flake: "not a flake" }, 'layerstack:flake: "not a flake" is not a flake reference'],
        ["flake dir without flake.nix", { flake: "path:/tmp" }, "layerstack:flake: no flake.nix in /tmp"],
        ["missing registry", { registry: "" }, "layerstack:registry is required"],
        ["registry with scheme", { registry: "https://ghcr.io" }, 'layerstack:registry: "https://ghcr.io" is not a registry host[:port]'],
        ["registry port out of range", { registry: "127.0.0.1:70000" }, 'layerstack:registry: "127.0.0.1:70000" is not a registry host[:port]'],
        ["repository with capitals", { repository: "Owner/Megapak" }, 'layerstack:repository: "Owner/Megapak" is not a repository path'],
        ["container layer ids without a container image", { containerLayerIds: ["a"] }, "layerstack:containerLayerIds needs layerstack:containerImage: it names that image's layers"],
        ["a container image that is no attribute name", { containerImage: "a b" }, 'layerstack:containerImage: "a b" is not a flake attribute name'],
        ["an unknown repository layout", { repositoryLayout: "flat" }, 'layerstack:repositoryLayout: "flat" must be "per-layer" or "single" (a repository per layer, or every layer in layerstack:repository with its id in the tag)'],
        ["a layer id too long for the single layout's tags", { repositoryLayout: "single", variant: "v".repeat(32), layers: [{ id: "l".repeat(64), attr: "a" }] },
            `layerstack:layers: layer "${"l".repeat(64)}": its tags would be 130 characters ("${"v".repeat(32)}-<32-character drv hash>-${"l".repeat(64)}"); a tag may have at most 128: use a shorter id or variant`],
        ["bad system", { system: "x86 linux" }, 'layerstack:system: "x86 linux" is not a Nix system'],
        ["bad variant", { variant: "CU 130" }, 'layerstack:variant: "CU 130" must be lowercase'],
        ["zero timeout", { buildTimeout: "0" }, 'layerstack:buildTimeout: "0" must be a whole number of seconds, at least 1'],
        ["fractional timeout", { buildTimeout: "1.5" }, 'layerstack:buildTimeout: "1.5" must be a whole number'],
        ["username without password", { registryUsername: "bot" }, "layerstack:registryPassword is required when layerstack:registryUsername is set"],
        ["password without username", { hasRegistryPassword: true }, "layerstack:registryUsername is required when layerstack:registryPassword is set"],
        ["layers not a list", { layers: { id: "a" } }, "layerstack:layers: must be a non-empty list"],
        ["layer with unknown field", { layers: [{ id: "a", attr: "a", parnt: "b" }] }, 'layerstack:layers[0]: unknown field "parnt"'],
        ["unknown parent", { layers: [{ id: "a", attr: "a", parent: "zz" }] }, 'layerstack:layers: layer "a" has unknown parent "zz"'],
        ["cycle", { layers: [{ id: "a", attr: "a", parent: "b" }, { id: "b", attr: "b", parent: "a" }] }, 'layerstack:layers: layer "a" is in a cycle: a -> b -> a'],
        ["duplicate id", { layers: [{ id: "a", attr: "a" }, { id: "a", attr: "b" }] }, 'layerstack:layers[1]: duplicate layer id "a"'],
        ["bad format", { layers: [{ id: "a", attr: "a", format: "tarball" }] }, 'layerstack:layers[0]: layer "a" has format "tarball"; expected one of oci, docker-archive, stream'],
        ["bad id", { layers: [{ id: "A B", attr: "a" }] }, 'layerstack:layers[0]: layer id "A B" is not a repository path component'],
        ["keepImages zero", { keepImages: "0" }, 'layerstack:keepImages: "0" must be a whole number, at least 1 (the images a stack output points at are always kept); leave it unset to keep every image'],
        ["keepImages not a number", { keepImages: "all" }, 'layerstack:keepImages: "all" must be a whole number, at least 1'],
        ["deleteImagesOnDestroy not a boolean", { deleteImagesOnDestroy: "yes" }, 'layerstack:deleteImagesOnDestroy: "yes" must be true or false'],
        // The OCI distribution reference grammar (lib/reference.ts), before anything is built.
        ["id with two periods in a row", { layers: [{ id: "base..cuda", attr: "a" }] }, 'layerstack:layers[0]: layer id "base..cuda" is not a repository path component'],
        ["id ending in a separator", { layers: [{ id: "base-", attr: "a" }] }, 'layerstack:layers[0]: layer id "base-" is not a repository path component'],
        ["id with three underscores", { layers: [{ id: "a___b", attr: "a" }] }, 'layerstack:layers[0]: layer id "a___b" is not a repository path component'],
        ["uppercase id", { layers: [{ id: "Base", attr: "a" }] }, 'layerstack:layers[0]: layer id "Base" is not a repository path component'],
        ["repository with two periods", { repository: "owner/mega..pak" }, 'layerstack:repository: "owner/mega..pak" is not a repository path'],
        ["repository too long for any layer", { repository: "a/".repeat(127) + "b" }, `layerstack:repository: "127.0.0.1:5000/${"a/".repeat(127)}b" is 270 characters, which leaves no room for a layer id: an image name may have at most 255`],
        ["an image name over 255 characters", { repository: "r".repeat(230), layers: [{ id: "layer01-base-cuda", attr: "a" }] },
            `layerstack:layers: layer "layer01-base-cuda": "127.0.0.1:5000/${"r".repeat(230)}/layer01-base-cuda" is 263 characters; an image name may have at most 255`],
    ])("%s", (_name, raw, expected) => {
        expect(errorOf(raw)).toContain(expected);
    });

    test("retention is off unless asked: every image is kept, destroy deletes none", () => {
        const s = validateConfig(good, ctx);
        expect(s.keepImages).toBeUndefined();
        expect(s.deleteImagesOnDestroy).toBe(false);
        const t = validateConfig({ ...good, keepImages: "3", deleteImagesOnDestroy: "true" }, ctx);
        expect(t.keepImages).toBe(3);
        expect(t.deleteImagesOnDestroy).toBe(true);
    });

    test("several problems are reported together", () => {
        const msg = errorOf({ registry: "x y", repository: "A" });
        expect(msg).toMatch(/^2 problems:/);
        expect(msg).toContain("layerstack:registry");
        expect(msg).toContain("layerstack:repository");
    });

    test("layers from config keep their order and parents; attr defaults to id", () => {
        const s = validateConfig({ ...good, layers: [{ id: "app", parent: "base" }, { id: "base", attr: "layer01-base-cuda" }] }, ctx);
        expect(s.layersSource).toBe("layerstack:layers");
        expect(s.layers).toEqual([
            { id: "base", attr: "layer01-base-cuda", parent: undefined, format: undefined },
            { id: "app", attr: "app", parent: "base", format: undefined },
        ]);
    });

    test("a username with a password set comes back as auth", () => {
        expect(validateConfig({ ...good, registryUsername: "bot", hasRegistryPassword: true }, ctx).auth).toEqual({ username: "bot" });
    });
});

describe("absolutizeFlake", () => {
    test.each([
        ["path:./fx", "path:/p/fx"],
        ["./fx", "path:/p/fx"],
        ["/abs/fx", "path:/abs/fx"],
        ["path:fx?dir=sub", "path:/p/fx?dir=sub"],
        ["github:owner/repo", "github:owner/repo"],
    ])("%s -> %s", (ref, want) => expect(absolutizeFlake(ref, "/p")).toBe(want));
});

const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";

describe("validateConfig: production keys", () => {
    const cu130 = { stack: "cu130", projectDir };
    const prod: RawConfig = {
        ...good, registry: "ghcr.io", repository: "owner/megapak",
        cache: "cachix", cachixCache: "megapak", hasCachixAuthToken: true,
        githubOwner: "owner", githubRepository: "megapak", hasGithubToken: true,
        runnerHost: "ci@gpu1.example.com:2222", runnerLabels: ["h100", "gpu"], runnerEphemeral: "true",
        runnerHostKey: HOST_KEY, hasRunnerSshKey: true, hasRunnerJitToken: true,
    };
    function prodError(raw: Partial<RawConfig>, c = cu130): string {
        return errorIn({ ...prod, ...raw } as RawConfig, c);
    }

    test("the dev stack's minimal config has no sibling", () => {
        const s = validateConfig(good, ctx);
        expect(s.cuda).toBeUndefined();
        expect(s.cache).toBeUndefined();
        expect(s.github).toBeUndefined();
        expect(s.runner).toBeUndefined();
        expect(s.promoteTags).toBe(false);
    });

    test("a cu130 stack gets its variant, cache, GitHub repository and runner", () => {
        const s = validateConfig(prod, cu130);
        expect(s.variant).toBe("cu130");
        expect(s.cuda).toEqual({ id: "cu130", cuda: "13.0", pytorch: "2.10.0", python: "3.14", minDriver: "580.65.06" });
        expect(s.cache).toEqual({ kind: "cachix", name: "megapak", apiUrl: "https://app.cachix.org/api/v1" });
        expect(s.github).toEqual({ owner: "owner", repository: "megapak", apiUrl: "https://api.github.com" });
        expect(s.runner).toEqual({
            user: "ci", host: "gpu1.example.com", port: 2222, hostKey: HOST_KEY, labels: ["h100"], ephemeral: true, allowPublicRepository: false,
            sshAgent: false, minFreeDiskGb: 100, release: {},
        });
    });

    test("a nix-store cache with a public key; the port defaults to 22", () => {
        const key = "cache.example-1:" + "A".repeat(43) + "=";
        const s = validateConfig({ ...prod, cache: "nix-store", cachixCache: undefined, hasCachixAuthToken: false, cacheUrl: "s3://bucket?region=eu-west-1", cachePublicKey: key, runnerHost: "ci@10.0.0.5" }, cu130);
        expect(s.cache).toEqual({ kind: "nix-store", url: "s3://bucket?region=eu-west-1", publicKey: key });
        expect(s.runner!.port).toBe(22);
    });

    test("checks run on the runner's Docker (over SSH) when the stack has a runner, else here", () => {
        expect(validateConfig(prod, cu130).checkHost).toEqual({ dockerHost: "ssh://ci@gpu1.example.com:2222" });
        expect(validateConfig({ ...prod, runnerHost: "ci@10.0.0.5" }, cu130).checkHost).toEqual({ dockerHost: "ssh://ci@10.0.0.5" });
        expect(validateConfig({ ...prod, runnerHost: "ci@[fd00::5]:2200" }, cu130).checkHost).toEqual({ dockerHost: "ssh://ci@[fd00::5]:2200" });
        expect(validateConfig({ ...prod, checksDockerHost: "unix:///var/run/docker.sock" }, cu130).checkHost).toEqual({ dockerHost: "unix:///var/run/docker.sock" });
        expect(validateConfig({ ...prod, checksOn: "local" }, cu130).checkHost).toBeUndefined();
        expect(validateConfig(good, ctx).checkHost).toBeUndefined();
        // A Docker host alone (no runner managed by this stack) is enough.
        expect(validateConfig({ ...good, checksDockerHost: "tcp://gpu2:2376" }, ctx).checkHost).toEqual({ dockerHost: "tcp://gpu2:2376" });
    });

    test("the runner's access: the host key as ssh-keyscan prints it, the agent when said, a mirror, an API URL", () => {
        const s = validateConfig({
            ...prod, runnerHostKey: `[gpu1.example.com]:2222 ${HOST_KEY} root@gpu1`, hasRunnerSshKey: false, runnerSshAgent: "true",
            runnerEphemeral: "false", hasRunnerJitToken: false, runnerMinFreeDiskGb: "0",
            runnerReleaseUrl: "https://mirror.example/runner/", runnerReleaseSha256: "ab".repeat(32), githubApiUrl: "https://ghe.example/api/v3/",
        }, cu130);
        expect(s.runner).toMatchObject({ hostKey: HOST_KEY, sshAgent: true, ephemeral: false, minFreeDiskGb: 0, release: { url: "https://mirror.example/runner", sha256: "ab".repeat(32) } });
        expect(s.github!.apiUrl).toBe("https://ghe.example/api/v3");
    });

    test("a project-local file cache is made absolute; other store URLs are kept", () => {
        const local = { ...good, cache: "nix-store", cacheUrl: "file://./.layerstack/nix-cache?compression=zstd" };
        expect(validateConfig(local, ctx).cache).toEqual({ kind: "nix-store", url: `file://${projectDir}/.layerstack/nix-cache?compression=zstd` });
        expect(validateConfig({ ...local, cacheUrl: "file:///var/cache/nix" }, ctx).cache).toEqual({ kind: "nix-store", url: "file:///var/cache/nix" });
    });

    test("an unknown stack name is not a CUDA variant unless it claims one", () => {
        expect(validateConfig(good, { stack: "e2e", projectDir }).cuda).toBeUndefined();
        expect(validateConfig({ ...good, variant: "cu128", python: "3.14" }, ctx).cuda!.id).toBe("cu128");
    });

    test.each<[string, Partial<RawConfig>, string]>([
        ["unsupported CUDA variant", { variant: "cu118" }, 'layerstack:variant: "cu118" is not a supported CUDA variant; supported: cu130 (CUDA 13.0, PyTorch 2.10.0, Python 3.14, driver >= 580.65.06); cu128 (CUDA 12.8'],
        ["unsupported combination", { cuda: "12.8" }, "layerstack:cuda: cu130 with cuda 12.8 is not a supported combination; supported: cu130"],
        ["missing Cachix token", { hasCachixAuthToken: false }, "layerstack:cachixAuthToken is required when layerstack:cache is cachix (set it with: pulumi config set --secret layerstack:cachixAuthToken)"],
        ["missing Cachix cache name", { cachixCache: undefined }, "layerstack:cachixCache is required when layerstack:cache is cachix"],
        ["bad Cachix cache name", { cachixCache: "My Cache" }, 'layerstack:cachixCache: "My Cache" is not a Cachix cache name'],
        ["bad Cachix API URL", { cachixApiUrl: "ftp://x" }, 'layerstack:cachixApiUrl: "ftp://x" is not an http(s) URL'],
        ["unknown cache kind", { cache: "s3" }, 'layerstack:cache: "s3" must be cachix or nix-store'],
        ["store URL with cachix", { cacheUrl: "file:///c" }, "layerstack:cacheUrl is only used with layerstack:cache: nix-store"],
        ["nix-store without URL", { cache: "nix-store", cachixCache: undefined, hasCachixAuthToken: false }, "layerstack:cacheUrl is required when layerstack:cache is nix-store"],
        ["bad store URL", { cache: "nix-store", cachixCache: undefined, hasCachixAuthToken: false, cacheUrl: "/var/cache" }, 'layerstack:cacheUrl: "/var/cache" is not a Nix store URL'],
        ["bad public key", { cache: "nix-store", cachixCache: undefined, hasCachixAuthToken: false, cacheUrl: "file:///c", cachePublicKey: "nokey" }, 'layerstack:cachePublicKey: "nokey" is not a Nix public key'],
        ["cache keys without a cache", { cache: undefined, hasCachixAuthToken: false }, "layerstack:cachixCache is set but layerstack:cache is not"],
        ["missing GitHub token", { hasGithubToken: false }, "layerstack:githubToken is required when layerstack:githubOwner is set (set it with: pulumi config set --secret layerstack:githubToken)"],
        ["missing GitHub repository", { githubRepository: undefined, runnerHost: undefined, runnerLabels: undefined, runnerEphemeral: undefined }, "layerstack:githubRepository is required when layerstack:githubOwner is set"],
        ["repository with owner", { githubRepository: "owner/megapak" }, 'layerstack:githubRepository: "owner/megapak" is not a repository name (without the owner)'],
        ["bad GitHub owner", { githubOwner: "-x-" }, 'layerstack:githubOwner: "-x-" is not a GitHub user or organization name'],
        ["SSH host without user", { runnerHost: "gpu1.example.com" }, 'layerstack:runnerHost: "gpu1.example.com" is not user@host[:port]'],
        ["SSH host with a scheme", { runnerHost: "ssh://ci@gpu1" }, 'layerstack:runnerHost: "ssh://ci@gpu1" is not user@host[:port]'],
        ["SSH port out of range", { runnerHost: "ci@gpu1:99999" }, 'layerstack:runnerHost: "ci@gpu1:99999" is not user@host[:port]'],
        ["SSH user with a space", { runnerHost: "c i@gpu1" }, 'layerstack:runnerHost: "c i@gpu1" is not user@host[:port]'],
        ["runner without GitHub", { githubOwner: undefined, githubRepository: undefined, hasGithubToken: false }, "layerstack:runnerHost needs layerstack:githubOwner and layerstack:githubRepository"],
        ["labels not a list", { runnerLabels: "gpu,h100" }, "layerstack:runnerLabels: must be a list of labels"],
        ["cuda label from config", { runnerLabels: ["cuda-12.1"] }, 'layerstack:runnerLabels: "cuda-12.1": cuda-* labels come from layerstack:variant'],
        ["ephemeral not a boolean", { runnerEphemeral: "yes" }, 'layerstack:runnerEphemeral: "yes" must be true or false'],
        ["promoteTags not a boolean", { promoteTags: "1" }, 'layerstack:promoteTags: "1" must be true or false'],
        ["runner keys without a host", { runnerHost: undefined, hasRunnerSshKey: false, hasRunnerJitToken: false }, "layerstack:runnerLabels is set but layerstack:runnerHost is not"],
        ["unknown checksOn", { checksOn: "gpu" }, 'layerstack:checksOn: "gpu" must be local or runner'],
        ["bad Docker host", { checksDockerHost: "gpu1:2375" }, 'layerstack:checksDockerHost: "gpu1:2375" is not a Docker host (ssh://user@host[:port], unix:///var/run/docker.sock or tcp://host:port)'],
        ["Docker host with local checks", { checksOn: "local", checksDockerHost: "ssh://ci@gpu1" }, "layerstack:checksDockerHost is only used with layerstack:checksOn: runner"],
        ["checks on a runner that is not there", { runnerHost: undefined, runnerLabels: undefined, runnerEphemeral: undefined, runnerHostKey: undefined, hasRunnerSshKey: false, hasRunnerJitToken: false, checksOn: "runner" },
            "layerstack:checksOn is runner, but neither layerstack:runnerHost nor layerstack:checksDockerHost says where the GPU runner's Docker is"],
        ["no host key", { runnerHostKey: undefined },
            "layerstack:runnerHostKey is required when layerstack:runnerHost is set: the host's public key as `ssh-keyscan -t ed25519 <host>` prints it (SSH refuses any other host key)"],
        ["a host key that is not one", { runnerHostKey: "AAAAC3Nza" }, 'layerstack:runnerHostKey: "AAAAC3Nza" is not an SSH public key ("ssh-ed25519 AAAA...", as ssh-keyscan prints it)'],
        ["neither key nor agent", { hasRunnerSshKey: false },
            "layerstack:runnerSshKey is required when layerstack:runnerHost is set (set it with: pulumi config set --secret layerstack:runnerSshKey < key-file), unless layerstack:runnerSshAgent is true"],
        ["key and agent", { runnerSshAgent: "true" }, "layerstack:runnerSshAgent is true, but layerstack:runnerSshKey is set too: use the key or the agent, not both"],
        ["agent not a boolean", { runnerSshAgent: "yes" }, 'layerstack:runnerSshAgent: "yes" must be true or false'],
        ["ephemeral without a JIT token", { hasRunnerJitToken: false },
            "layerstack:runnerJitToken is required when layerstack:runnerEphemeral is true: the host's service mints a just-in-time configuration per job with it (set it with: pulumi config set --secret layerstack:runnerJitToken)"],
        ["a JIT token without ephemeral", { runnerEphemeral: "false" }, "layerstack:runnerJitToken is only used with layerstack:runnerEphemeral: true"],
        ["disk minimum not a number", { runnerMinFreeDiskGb: "lots" }, 'layerstack:runnerMinFreeDiskGb: "lots" must be a whole number of GB'],
        ["release URL not http(s)", { runnerReleaseUrl: "ftp://mirror" }, 'layerstack:runnerReleaseUrl: "ftp://mirror" is not an http(s) URL (the tarball is <url>/v<version>/actions-runner-linux-x64-<version>.tar.gz)'],
        ["release sha256 not one", { runnerReleaseSha256: "abc" }, "layerstack:runnerReleaseSha256: must be 64 lowercase hex digits"],
        ["API URL with a specifier", { githubApiUrl: "https://ghe.example/%i" }, 'layerstack:githubApiUrl: "https://ghe.example/%i" is not an http(s) URL without query (e.g. "https://api.github.com")'],
        ["API URL without GitHub", { githubOwner: undefined, githubRepository: undefined, hasGithubToken: false, runnerHost: undefined, runnerLabels: undefined, runnerEphemeral: undefined, runnerHostKey: undefined, hasRunnerSshKey: false, hasRunnerJitToken: false, githubApiUrl: "https://ghe.example/api/v3" },
            "layerstack:githubApiUrl is set but layerstack:githubOwner is not"],
        ["runner access keys without a host", { runnerHost: undefined, runnerLabels: undefined, runnerEphemeral: undefined, hasRunnerJitToken: false }, "layerstack:runnerHostKey is set but layerstack:runnerHost is not"],
        ["a JIT token without a host", { runnerHost: undefined, runnerLabels: undefined, runnerEphemeral: undefined, runnerHostKey: undefined, hasRunnerSshKey: false }, "layerstack:runnerJitToken is set but layerstack:runnerHost is not"],
        ["Docker over SSH to another host", { checksDockerHost: "ssh://ci@gpu2.example.com" },
            'layerstack:checksDockerHost: "ssh://ci@gpu2.example.com": an ssh:// Docker host must be the runner ("ssh://ci@gpu1.example.com:2222"), whose SSH key and pinned host key it uses; use unix:///var/run/docker.sock when `up` runs on the runner'],
        ["Docker over SSH without a runner", { runnerHost: undefined, runnerLabels: undefined, runnerEphemeral: undefined, runnerHostKey: undefined, hasRunnerSshKey: false, hasRunnerJitToken: false, checksDockerHost: "ssh://ci@gpu2.example.com" },
            'layerstack:checksDockerHost: "ssh://ci@gpu2.example.com": an ssh:// Docker host must be the runner (set layerstack:runnerHost), whose SSH key and pinned host key it uses'],
    ])("%s", (_name, raw, expected) => {
        expect(prodError(raw)).toContain(expected);
    });

    test("a dev-named stack that asks for a runner must name a CUDA variant", () => {
        expect(prodError({}, ctx)).toContain('layerstack:variant: "dev" is not a supported CUDA variant; supported: cu130');
        expect(prodError({}, ctx)).toContain("(layerstack:variant defaults to the stack name)");
    });

    test("no secret is ever echoed: only whether a secret key is set reaches validation", () => {
        // RawConfig has no field for a secret's value; the messages above name keys only.
        const fields = Object.keys(prod);
        // runnerHostKey is the host's *public* key (plain config, like cachePublicKey).
        expect(fields.filter((f) => /token|password|key$/i.test(f) && !f.startsWith("has") && f !== "runnerHostKey")).toEqual([]);
    });
});

describe("the variant selects the flake attributes and the checks' versions", () => {
    test("cu130 reads the catalog's attributes; its checks expect CUDA 13.0", () => {
        const s = validateConfig({ ...good, variant: "cu130" }, { ...ctx, stack: "cu130" });
        expect(s.layers.find((l) => l.id === "layer04-pytorch")!.attr).toBe("layer04-pytorch");
        expect(s.checks.get("layer01-base-cuda")![0].script).toContain("release 13.0,");
    });
    test("cu128 reads <attr>-cu128; its checks expect CUDA 12.8", () => {
        const s = validateConfig({ ...good, variant: "cu128" }, { ...ctx, stack: "cu128" });
        expect(s.layers.map((l) => l.attr)).toContain("layer04-pytorch-cu128");
        expect(s.layers.every((l) => l.attr.endsWith("-cu128"))).toBe(true);
        expect(s.checks.get("layer01-base-cuda")![0].script).toContain("release 12.8,");
        expect(s.checks.get("layer04-pytorch")![0].script).toContain("12.8");
    });
    test("layers from config keep their attributes whatever the variant", () => {
        const s = validateConfig({ ...good, variant: "cu128", layers: [{ id: "base", attr: "my-base" }] }, { ...ctx, stack: "cu128" });
        expect(s.layers[0].attr).toBe("my-base");
    });
});

describe("a layer's checks follow it through a rename", () => {
    const names = (s: ReturnType<typeof validateConfig>, id: string) => (s.checks.get(id) ?? []).map((c) => c.name);

    test("a renamed layer keeps the catalog's checks of its flake attribute", () => {
        const s = validateConfig({ ...good, layers: [{ id: "base", attr: "layer01-base-cuda" }, { id: "torch", attr: "layer04-pytorch", parent: "base" }] }, ctx);
        expect(names(s, "base")).toEqual(["nvcc-version"]);
        expect(names(s, "torch")).toEqual(["torch-cuda-version", "torch-sees-gpu", "pytorch-installed"]);
    });

    test("another variant's attribute (<attr>-cu128) finds them too, with that variant's versions", () => {
        const s = validateConfig({ ...good, variant: "cu128", layers: [{ id: "base", attr: "layer01-base-cuda-cu128" }] }, { ...ctx, stack: "cu128" });
        expect(s.checks.get("base")![0].script).toContain("release 12.8,");
    });

    test("checks set on the layer replace the catalog's; overrides apply on top", () => {
        const s = validateConfig({
            ...good,
            layers: [{ id: "base", attr: "layer01-base-cuda", checks: [{ name: "has-sh", script: "test -x /bin/sh" }, { name: "gpu-ok", script: "nvidia-smi", gpu: true }] }],
            checks: { base: [{ name: "gpu-ok", skip: true }] },
        }, ctx);
        expect(s.checks.get("base")).toEqual([{ name: "has-sh", script: "test -x /bin/sh" }]);
        const none = validateConfig({ ...good, layers: [{ id: "layer01-base-cuda", attr: "my-base", checks: [] }] }, ctx);
        expect(none.checks.get("layer01-base-cuda")).toBeUndefined();
    });

    test.each([
        ["a catalog id on another attribute, which would drop its checks", { layers: [{ id: "layer04-pytorch", attr: "my-torch" }] },
            'layerstack:layers: layer "layer04-pytorch" has the id of a catalog layer with checks (torch-cuda-version, torch-sees-gpu, pytorch-installed), but the flake attribute "my-torch": checks follow the attribute, so these would be dropped. Set "checks" on the layer to keep them (or "checks: []" to run none)'],
        ["overrides keyed by an old id", { layers: [{ id: "base", attr: "layer01-base-cuda" }], checks: { "layer01-base-cuda": [{ name: "nvcc-version", skip: true }] } },
            'layerstack:checks: no layer "layer01-base-cuda" in layerstack:layers (checks are keyed by layer id: after a rename, key them by the new id)'],
        ["checks on a layer that are not a list", { layers: [{ id: "base", attr: "a", checks: "nvcc" }] }, "layerstack:layers[0].checks: must be a list of {name, script | argv, gpu?}"],
        ["a check on a layer without a script", { layers: [{ id: "base", attr: "a", checks: [{ name: "x" }] }] }, "layerstack:layers[0].checks[0]: script must be a non-empty string"],
        ["two checks of one name on a layer", { layers: [{ id: "base", attr: "a", checks: [{ name: "x", script: "true" }, { name: "x", script: "false" }] }] }, 'layerstack:layers[0].checks[1]: duplicate check name "x"'],
    ])("%s fails, saying so", (_name, raw, expected) => {
        expect(errorOf(raw as Partial<RawConfig>)).toBe(expected);
    });
});
