/**
 * The signing keys (`layerstack:signingKey`, `signingKeyPassword`, `signingPublicKey`), validated:
 * every layer is signed, and its SBOM and provenance attested, with cosign (issue 23) when the
 * stack has a key pair; without one nothing is signed. The private key and its password are
 * secrets: only whether they are set is looked at, never their values.
 */
import { RawConfig, key } from "./raw";

/** What the stack signs with, but the secrets (settings/args.ts joins them). */
export interface SigningConfig {
    /** The public key (PEM) the sign step verifies with, as a consumer does. */
    readonly publicKey: string;
}

const PEM_PUBLIC_KEY = /^-----BEGIN PUBLIC KEY-----\r?\n[A-Za-z0-9+/=\r\n]+-----END PUBLIC KEY-----\s*$/;

/** Validates the signing keys; pushes one problem per mistake, naming the key. */
export function validateSigning(raw: RawConfig, problems: string[]): SigningConfig | undefined {
    const hasKey = raw.hasSigningKey === true, hasPassword = raw.hasSigningKeyPassword === true;
    const pub = raw.signingPublicKey;
    if (!hasKey) {
        if (hasPassword) problems.push(`${key("signingKeyPassword")} is set but ${key("signingKey")} is not`);
        if (pub !== undefined) problems.push(`${key("signingPublicKey")} is set but ${key("signingKey")} is not`);
        return undefined;
    }
    const before = problems.length;
    if (!hasPassword) {
        problems.push(`${key("signingKeyPassword")} is required when ${key("signingKey")} is set (set it with: pulumi config set --secret ${key("signingKeyPassword")}; an empty password is set as "")`);
    }
    if (pub === undefined || pub === "") {
        problems.push(`${key("signingPublicKey")} is required when ${key("signingKey")} is set: the key pair's public key (cosign.pub, a PEM block), which the sign step and consumers verify with`);
    } else if (!PEM_PUBLIC_KEY.test(pub.trim() + "\n")) {
        problems.push(`${key("signingPublicKey")}: must be a PEM public key ("-----BEGIN PUBLIC KEY-----" ... "-----END PUBLIC KEY-----"), as cosign generate-key-pair writes to cosign.pub`);
    }
    return problems.length > before ? undefined : { publicKey: pub!.trim() + "\n" };
}
