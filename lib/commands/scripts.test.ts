// Every script the stack runs, snapshot-tested (pulumi-eks style): a change to a command's text
// shows up in review as a change to its snapshot. And the environment each one is given: its
// variable names, from the one typed builder per script (every LAYERSTACK_* name written once).
import * as pulumi from "@pulumi/pulumi";
import * as commands from ".";

describe("the scripts", () => {
    const scripts = Object.entries(commands).filter(([, v]) => typeof v === "string").sort(([a], [b]) => a.localeCompare(b));
    test.each(scripts)("%s", (_name, text) => {
        expect(text).toMatchSnapshot();
    });
});

describe("each script's environment, by its builder", () => {
    const secret = pulumi.secret("s3cret");
    const auth = { username: "bot", password: secret };
    const envs: Record<string, commands.ScriptEnv> = {
        buildEnv: commands.buildEnv({ drvPath: "/nix/store/x.drv", timeoutSeconds: 60, nixConfig: "sandbox = false" }),
        pushEnv: commands.pushEnv({
            layer: "l", drvPath: "/nix/store/x.drv", format: "oci", copyTo: { drvPath: "/nix/store/c.drv", mainProgram: "copy-to" }, registry: "ghcr.io",
            repositoryUrl: "ghcr.io/o/l", tag: "t", parent: { layer: "p", image: "ghcr.io/o/p:t" }, registryAuth: auth, nixConfig: "sandbox = false",
        }),
        localCheckEnv: commands.localCheckEnv({ imageRef: "ghcr.io/o/l@sha256:x", registry: "ghcr.io", registryAuth: auth, check: { name: "c", script: "true" } }),
        promoteEnv: commands.promoteEnv({ imageRef: "ghcr.io/o/l@sha256:x", repositoryUrl: "ghcr.io/o/l", movingTag: "cu130-latest", registry: "ghcr.io", registryAuth: auth }),
        cachixInfoEnv: commands.cachixInfoEnv({ apiUrl: "https://app.cachix.org/api/v1", cache: "c", authToken: secret }),
        cachixPushEnv: commands.cachixPushEnv({ id: "l", drvPath: "/nix/store/x.drv", cache: "c", authToken: secret, signingKey: secret, nixConfig: "x = y" }),
        nixCopyPushEnv: commands.nixCopyPushEnv({ id: "l", drvPath: "/nix/store/x.drv", url: "file:///c", signingKey: secret, nixConfig: "x = y" }),
        sshEnv: commands.sshEnv({ host: "h", user: "u", hostKey: "ssh-ed25519 AAAA", privateKey: secret }),
        githubEnv: commands.githubEnv({ apiUrl: "https://api.github.com", owner: "o", repository: "r", token: secret }),
        ownStorePathsEnv: commands.ownStorePathsEnv({ layer: "l", imageRef: "ghcr.io/o/l@sha256:x", repositoryPath: "o/l", registry: "ghcr.io", registryAuth: auth, nixConfig: "x = y" }),
        signEnv: commands.signEnv({ layer: "l", imageRef: "ghcr.io/o/l@sha256:x", registry: "ghcr.io", registryAuth: auth, key: { privateKey: secret, password: secret, publicKey: "PEM" } }),
        runnerCheckVerdictEnv: commands.runnerCheckVerdictEnv({ layer: "l", check: "c", imageRef: "i", exitCode: "0", logs: "", containerUrn: "urn" }),
    };
    test.each(Object.entries(envs))("%s", (_name, env) => {
        expect(Object.keys(env).sort()).toMatchSnapshot();
        // Every secret given reaches the environment as a secret Output, never as a plain string.
        for (const v of Object.values(env)) expect(v).not.toBe("s3cret");
    });
});
