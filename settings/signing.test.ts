// The signing keys (settings/signing.ts): exact messages naming the key, never a secret's value
// (validation only ever learns whether a secret is set), and the args they give the pipeline.
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { RawConfig, stackArgs, validateConfig } from ".";
import { LayerstackError } from "../lib/errors";

const ctx = { stack: "dev", projectDir: path.resolve(__dirname, "..") };
const good: RawConfig = { flake: "path:./fixtures/megapak", registry: "127.0.0.1:5000", repository: "layerstack/megapak", hasRegistryPassword: false };
const PUB = "-----BEGIN PUBLIC KEY-----\nMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE7nJYq6JrF0myA3ZCRlNUPIXa+BCJ\nFcGSONuCC8LRdE3pJQlBJgO8yKcxv+zrmdBSEHDbTOfwD4jv76nEg9oJ5g==\n-----END PUBLIC KEY-----\n";
const signing: Partial<RawConfig> = { hasSigningKey: true, hasSigningKeyPassword: true, signingPublicKey: PUB };

function errorOf(raw: Partial<RawConfig>): string {
    try {
        validateConfig({ ...good, ...raw } as RawConfig, ctx);
    } catch (e) {
        expect(e).toBeInstanceOf(LayerstackError);
        return (e as Error).message;
    }
    throw new Error("expected a config error");
}

describe("signing keys", () => {
    test("without a key nothing is signed: the pipeline gets no signing", () => {
        const v = validateConfig(good, ctx);
        expect(v.signing).toBeUndefined();
        expect(stackArgs(v, {}).pipeline.signing).toBeUndefined();
    });

    test("a key, its password and the public key sign every layer: the secrets reach the pipeline as the secret Outputs they are", async () => {
        const v = validateConfig({ ...good, ...signing }, ctx);
        expect(v.signing).toEqual({ publicKey: PUB });
        const privateKey = pulumi.secret("PRIVATE"), password = pulumi.secret("PASSWORD");
        const s = stackArgs(v, { signingKey: privateKey, signingKeyPassword: password }).pipeline.signing!;
        expect(s.privateKey).toBe(privateKey);
        expect(s.password).toBe(password);
        expect(s.publicKey).toBe(PUB);
        expect(await pulumi.isSecret(s.privateKey)).toBe(true);
    });

    test("the public key is kept with one final newline, whatever the YAML made of its end", () => {
        expect(validateConfig({ ...good, ...signing, signingPublicKey: PUB.trim() }, ctx).signing!.publicKey).toBe(PUB);
    });

    test.each<[string, Partial<RawConfig>, string]>([
        ["a key without its password", { hasSigningKey: true, signingPublicKey: PUB },
            'layerstack:signingKeyPassword is required when layerstack:signingKey is set (set it with: pulumi config set --secret layerstack:signingKeyPassword; an empty password is set as "")'],
        ["a key without the public key", { hasSigningKey: true, hasSigningKeyPassword: true },
            "layerstack:signingPublicKey is required when layerstack:signingKey is set: the key pair's public key (cosign.pub, a PEM block), which the sign step and consumers verify with"],
        ["a public key that is no PEM", { ...signing, signingPublicKey: "cosign.pub" },
            'layerstack:signingPublicKey: must be a PEM public key ("-----BEGIN PUBLIC KEY-----" ... "-----END PUBLIC KEY-----"), as cosign generate-key-pair writes to cosign.pub'],
        ["a private key given as the public key", { ...signing, signingPublicKey: "-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\nabc\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n" },
            'layerstack:signingPublicKey: must be a PEM public key'],
        ["a password without a key", { hasSigningKeyPassword: true }, "layerstack:signingKeyPassword is set but layerstack:signingKey is not"],
        ["a public key without a key", { signingPublicKey: PUB }, "layerstack:signingPublicKey is set but layerstack:signingKey is not"],
    ])("%s", (_name, raw, expected) => {
        expect(errorOf(raw)).toContain(expected);
    });

    test("both missing pieces are named together", () => {
        const msg = errorOf({ hasSigningKey: true });
        expect(msg).toMatch(/^2 problems:/);
        expect(msg).toContain("layerstack:signingKeyPassword is required");
        expect(msg).toContain("layerstack:signingPublicKey is required");
    });
});
