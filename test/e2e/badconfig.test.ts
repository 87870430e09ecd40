// Bad input on the real engine: each case fails `pulumi up` before any resource exists,
// names the key or layer, and never echoes a secret.
import * as path from "path";
import { REPO, TestProject, must } from "../support/stack";

const SENTINEL = "Sentinel-Secret-7f3a9c";
const project = new TestProject("badconfig");
const good = () => ({
    "layerstack:flake": `path:${project.flakeDir}`,
    "layerstack:registry": "127.0.0.1:5999",
    "layerstack:repository": "layerstack/megapak",
});

beforeAll(() => project.init(good()));
afterAll(() => project.dispose());

type Case = [string, Record<string, string | object>, string, Record<string, string>?];
const RUNNER = { "layerstack:variant": "cu130", "layerstack:githubOwner": "owner", "layerstack:githubRepository": "megapak", "layerstack:runnerHost": "ci@gpu1" };
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const cases: Case[] = [
    ["an unknown parent", { "layerstack:layers": [{ id: "base", attr: "layer01-base-cuda" }, { id: "app", attr: "layer02-python-tools", parent: "nope" }] },
        'layerstack:layers: layer "app" has unknown parent "nope"'],
    ["a cycle", { "layerstack:layers": [{ id: "a", attr: "layer01-base-cuda", parent: "b" }, { id: "b", attr: "layer02-python-tools", parent: "a" }] },
        'layerstack:layers: layer "a" is in a cycle: a -> b -> a'],
    ["a duplicate id", { "layerstack:layers": [{ id: "a", attr: "layer01-base-cuda" }, { id: "a", attr: "layer02-python-tools" }] },
        'layerstack:layers[1]: duplicate layer id "a"'],
    ["a malformed registry", { "layerstack:registry": "http://127.0.0.1:5000/v2" }, 'layerstack:registry: "http://127.0.0.1:5000/v2" is not a registry host[:port]'],
    ["a malformed repository", { "layerstack:repository": "Layer Stack" }, 'layerstack:repository: "Layer Stack" is not a repository path'],
    ["a missing flake attribute", { "layerstack:layers": [{ id: "base", attr: "layer01-base-cuda" }, { id: "ghost", attr: "layer42-ghost", parent: "base" }] },
        'layerstack:layers: layer "ghost": the flake has no attribute packages.x86_64-linux.layer42-ghost'],
    ["a zero build timeout", { "layerstack:buildTimeout": "0" }, 'layerstack:buildTimeout: "0" must be a whole number of seconds, at least 1'],
    ["a bad variant", { "layerstack:variant": "Not Valid" }, 'layerstack:variant: "Not Valid" must be lowercase'],
    ["a bad check override", { "layerstack:checks": { "layer01-base-cuda": [{ name: "nvcc-version", skip: "yes" }] } }, "layerstack:checks.layer01-base-cuda[0]: skip must be true or false"],
    ["a password without a username", {}, "layerstack:registryUsername is required when layerstack:registryPassword is set", { "layerstack:registryPassword": SENTINEL }],
    // Every other key, each with a malformed value; secrets set to the sentinel where a case has one.
    ["a malformed flake reference", { "layerstack:flake": "not a flake" }, 'layerstack:flake: "not a flake" is not a flake reference'],
    ["a malformed system", { "layerstack:system": "x86_64" }, 'layerstack:system: "x86_64" is not a Nix system'],
    ["runChecks not a boolean", { "layerstack:runChecks": "yes" }, 'layerstack:runChecks: "yes" must be true or false'],
    ["a username with a space", { "layerstack:registryUsername": "a b" }, "layerstack:registryUsername: must be 1 to 128 characters without spaces or ':'", { "layerstack:registryPassword": SENTINEL }],
    ["an unsupported CUDA version", { "layerstack:variant": "cu130", "layerstack:cuda": "11.8" }, "layerstack:cuda: cu130 with cuda 11.8 is not a supported combination; supported: cu130 (CUDA 13.0, PyTorch 2.10.0, Python 3.14"],
    ["an unsupported PyTorch", { "layerstack:variant": "cu130", "layerstack:pytorch": "1.0" }, "layerstack:pytorch: cu130 with pytorch 1.0 is not a supported combination"],
    ["an unsupported Python", { "layerstack:variant": "cu130", "layerstack:python": "2.7" }, "layerstack:python: cu130 with python 2.7 is not a supported combination"],
    ["promoteTags not a boolean", { "layerstack:promoteTags": "yes" }, 'layerstack:promoteTags: "yes" must be true or false'],
    ["keepImages zero", { "layerstack:keepImages": "0" }, 'layerstack:keepImages: "0" must be a whole number, at least 1'],
    ["deleteImagesOnDestroy not a boolean", { "layerstack:deleteImagesOnDestroy": "yes" }, 'layerstack:deleteImagesOnDestroy: "yes" must be true or false'],
    ["an unknown cache kind", { "layerstack:cache": "redis" }, 'layerstack:cache: "redis" must be cachix or nix-store'],
    ["a malformed Cachix cache name", { "layerstack:cache": "cachix", "layerstack:cachixCache": "Bad Name" }, 'layerstack:cachixCache: "Bad Name" is not a Cachix cache name', { "layerstack:cachixAuthToken": SENTINEL }],
    ["a malformed Cachix API URL", { "layerstack:cache": "cachix", "layerstack:cachixCache": "megapak", "layerstack:cachixApiUrl": "ftp://x" }, 'layerstack:cachixApiUrl: "ftp://x" is not an http(s) URL', { "layerstack:cachixAuthToken": SENTINEL }],
    ["a missing Cachix token", { "layerstack:cache": "cachix", "layerstack:cachixCache": "megapak" }, "layerstack:cachixAuthToken is required when layerstack:cache is cachix (set it with: pulumi config set --secret layerstack:cachixAuthToken)"],
    ["a malformed cache URL", { "layerstack:cache": "nix-store", "layerstack:cacheUrl": "/var/cache" }, 'layerstack:cacheUrl: "/var/cache" is not a Nix store URL'],
    ["a malformed cache public key", { "layerstack:cache": "nix-store", "layerstack:cacheUrl": "file:///tmp/c", "layerstack:cachePublicKey": "nokey" }, 'layerstack:cachePublicKey: "nokey" is not a Nix public key', { "layerstack:cacheSigningKey": SENTINEL }],
    ["a signing key without a cache", {}, "layerstack:cacheSigningKey is set but layerstack:cache is not", { "layerstack:cacheSigningKey": SENTINEL }],
    ["a malformed GitHub owner", { "layerstack:githubOwner": "bad owner", "layerstack:githubRepository": "megapak" }, 'layerstack:githubOwner: "bad owner" is not a GitHub user or organization name', { "layerstack:githubToken": SENTINEL }],
    ["a repository with its owner", { "layerstack:githubOwner": "owner", "layerstack:githubRepository": "owner/megapak" }, 'layerstack:githubRepository: "owner/megapak" is not a repository name', { "layerstack:githubToken": SENTINEL }],
    ["a missing GitHub token", { "layerstack:githubOwner": "owner", "layerstack:githubRepository": "megapak" }, "layerstack:githubToken is required when layerstack:githubOwner is set (set it with: pulumi config set --secret layerstack:githubToken)"],
    ["a malformed SSH host", { "layerstack:variant": "cu130", "layerstack:githubOwner": "owner", "layerstack:githubRepository": "megapak", "layerstack:runnerHost": "gpu1" },
        'layerstack:runnerHost: "gpu1" is not user@host[:port]', { "layerstack:githubToken": SENTINEL, "layerstack:runnerSshKey": SENTINEL }],
    ["an SSH key without a host", {}, "layerstack:runnerSshKey is set but layerstack:runnerHost is not", { "layerstack:runnerSshKey": SENTINEL }],
    ["runner labels not a list", { "layerstack:variant": "cu130", "layerstack:githubOwner": "owner", "layerstack:githubRepository": "megapak", "layerstack:runnerHost": "ci@gpu1", "layerstack:runnerLabels": { gpu: "h100" } },
        "layerstack:runnerLabels: must be a list of labels", { "layerstack:githubToken": SENTINEL }],
    ["runnerEphemeral not a boolean", { "layerstack:variant": "cu130", "layerstack:githubOwner": "owner", "layerstack:githubRepository": "megapak", "layerstack:runnerHost": "ci@gpu1", "layerstack:runnerEphemeral": "yes" },
        'layerstack:runnerEphemeral: "yes" must be true or false', { "layerstack:githubToken": SENTINEL }],
    ["allowPublicRepository not a boolean", { "layerstack:variant": "cu130", "layerstack:githubOwner": "owner", "layerstack:githubRepository": "megapak", "layerstack:runnerHost": "ci@gpu1", "layerstack:allowPublicRepository": "yes" },
        'layerstack:allowPublicRepository: "yes" must be true or false', { "layerstack:githubToken": SENTINEL }],
    ["a runner without a host key", { ...RUNNER }, "layerstack:runnerHostKey is required when layerstack:runnerHost is set", { "layerstack:githubToken": SENTINEL, "layerstack:runnerSshKey": SENTINEL }],
    ["a malformed host key", { ...RUNNER, "layerstack:runnerHostKey": "AAAAC3NzaC1lZDI1NTE5" }, 'layerstack:runnerHostKey: "AAAAC3NzaC1lZDI1NTE5" is not an SSH public key',
        { "layerstack:githubToken": SENTINEL, "layerstack:runnerSshKey": SENTINEL }],
    ["a runner with neither key nor agent", { ...RUNNER, "layerstack:runnerHostKey": HOST_KEY },
        "layerstack:runnerSshKey is required when layerstack:runnerHost is set (set it with: pulumi config set --secret layerstack:runnerSshKey < key-file), unless layerstack:runnerSshAgent is true", { "layerstack:githubToken": SENTINEL }],
    ["an ephemeral runner without a JIT token", { ...RUNNER, "layerstack:runnerHostKey": HOST_KEY, "layerstack:runnerEphemeral": "true" },
        "layerstack:runnerJitToken is required when layerstack:runnerEphemeral is true", { "layerstack:githubToken": SENTINEL, "layerstack:runnerSshKey": SENTINEL }],
    ["a malformed GitHub API URL", { "layerstack:githubOwner": "owner", "layerstack:githubRepository": "megapak", "layerstack:githubApiUrl": "ftp://ghe" },
        'layerstack:githubApiUrl: "ftp://ghe" is not an http(s) URL without query', { "layerstack:githubToken": SENTINEL }],
    ["a malformed runner release sha256", { ...RUNNER, "layerstack:runnerHostKey": HOST_KEY, "layerstack:runnerReleaseSha256": "abc" },
        "layerstack:runnerReleaseSha256: must be 64 lowercase hex digits", { "layerstack:githubToken": SENTINEL, "layerstack:runnerSshKey": SENTINEL }],
    ["Docker over SSH to a host that is not the runner", { ...RUNNER, "layerstack:runnerHostKey": HOST_KEY, "layerstack:checksDockerHost": "ssh://ci@gpu2" },
        'layerstack:checksDockerHost: "ssh://ci@gpu2": an ssh:// Docker host must be the runner ("ssh://ci@gpu1")', { "layerstack:githubToken": SENTINEL, "layerstack:runnerSshKey": SENTINEL }],
    ["an unknown checksOn", { "layerstack:checksOn": "gpu" }, 'layerstack:checksOn: "gpu" must be local or runner'],
    ["a malformed checks Docker host", { "layerstack:checksDockerHost": "gpu1:2375" }, 'layerstack:checksDockerHost: "gpu1:2375" is not a Docker host'],
    // Nix remote builders (lib/builders.ts): the key, the pinned host keys, the machine lines (a string or a YAML list).
    ["builders without their SSH key", { "layerstack:nixBuilders": "ssh-ng://nix@builder1.example.com x86_64-linux - 8 1", "layerstack:nixBuildersHostKeys": { "builder1.example.com": HOST_KEY } },
        "layerstack:nixBuildersSshKey is required when layerstack:nixBuilders is set: the private key the machines accept (set it with: pulumi config set --secret layerstack:nixBuildersSshKey < key-file)"],
    ["a builder without its host key", { "layerstack:nixBuilders": "ssh-ng://nix@builder1.example.com" },
        "layerstack:nixBuildersHostKeys is required when layerstack:nixBuilders is set", { "layerstack:nixBuildersSshKey": SENTINEL }],
    ["a builder on another port", { "layerstack:nixBuilders": "ssh-ng://nix@builder1.example.com:2222", "layerstack:nixBuildersHostKeys": { "builder1.example.com": HOST_KEY } },
        'layerstack:nixBuilders: machine 1 ("ssh-ng://nix@builder1.example.com:2222"): Nix takes no port in a builder\'s URI', { "layerstack:nixBuildersSshKey": SENTINEL }],
    ["a builders list naming a key file", { "layerstack:nixBuilders": ["ssh-ng://nix@builder1.example.com x86_64-linux - 8", "ssh-ng://nix@builder2.example.com x86_64-linux /root/.ssh/id_ed25519"],
        "layerstack:nixBuildersHostKeys": { "builder1.example.com": HOST_KEY, "builder2.example.com": HOST_KEY } },
        'layerstack:nixBuilders: machine 2 ("ssh-ng://nix@builder2.example.com"): field 3 (the SSH key) must be "-"', { "layerstack:nixBuildersSshKey": SENTINEL }],
    ["a builders key without builders", {}, "layerstack:nixBuildersSshKey is set but layerstack:nixBuilders is not", { "layerstack:nixBuildersSshKey": SENTINEL }],
];

test.each(cases)("%s", (_name, change, message, secrets = {}) => {
    const keys = [...Object.keys(change), ...Object.keys(secrets)];
    try {
        for (const [k, v] of Object.entries(change)) project.setConfig(k, v);
        for (const [k, v] of Object.entries(secrets)) must(project.pulumi(["config", "set", "--secret", k], { input: v }), `config set --secret ${k}`);
        const r = project.up();
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(message);
        expect(r.stdout + r.stderr).not.toContain(SENTINEL);
        expect(r.stdout + r.stderr).not.toMatch(/at Object\.<anonymous>|\.ts:\d+:\d+/); // a message, not a stack trace
        const created = project.resources().filter((res) => !res.type.startsWith("pulumi:"));
        expect(created).toEqual([]);
    } finally {
        const base: Record<string, string> = good();
        for (const k of keys) must(k in base ? project.pulumi(["config", "set", k, base[k]]) : project.pulumi(["config", "rm", k]), `restore ${k}`);
    }
});

test("a flake that does not evaluate is reported with Nix's own error", () => {
    const flake = `${project.flakeDir}/flake.nix`;
    const fs = require("fs") as typeof import("fs");
    const original = fs.readFileSync(flake, "utf8");
    fs.writeFileSync(flake, original.replace("outputs = { self }:", "outputs = { self }: assert false;"));
    try {
        const r = project.up();
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(`layerstack:flake: evaluating path:${project.flakeDir}#packages.x86_64-linux failed`);
        expect(r.stdout + r.stderr).toContain("assertion");
        expect(project.resources().filter((res) => !res.type.startsWith("pulumi:"))).toEqual([]);
    } finally {
        fs.writeFileSync(flake, original);
    }
});

test("a Nix older than nixpkgs accepts, first on PATH, fails the preview before any resource, naming it and the minimum", () => {
    // Debian bookworm's real Nix 2.8 (scripts/lib/nix-install.sh keeps it for this test).
    const old = path.join(REPO, ".layerstack/nix/old-bin");
    const saved = project.env.PATH;
    project.env.PATH = `${old}:${saved}`;
    try {
        const r = project.pulumi(["preview"]);
        expect(r.code).not.toBe(0);
        expect(r.stdout + r.stderr).toContain(`error: the nix first on PATH (${old}/nix) is Nix 2.8.0, older than 2.18: layerstack needs Nix 2.18 or newer, the oldest nixpkgs evaluates on (its lib/minver.nix). Install a current Nix (https://nixos.org/download) or put one first on PATH`);
        expect(r.stdout + r.stderr).not.toMatch(/at Object\.<anonymous>|\.ts:\d+:\d+/);
        expect(project.resources().filter((res) => !res.type.startsWith("pulumi:"))).toEqual([]);
    } finally {
        project.env.PATH = saved;
    }
});
