/**
 * A layer's build provenance: an in-toto SLSA provenance v1 predicate
 * (https://slsa.dev/spec/v1.0/provenance), attached by `cosign attest --type slsaprovenance1`
 * (cosign v2.6.5 cmd/cosign/cli/options/predicate.go maps it to `https://slsa.dev/provenance/v1`).
 *
 * cosign reads the predicate into in-toto-golang's slsa_provenance/v1 ProvenancePredicate
 * (pkg/cosign/attestation/attestation.go generateSLSAProvenanceStatementSLSA1) before it wraps
 * it in the statement, and json.Unmarshal drops every field that type does not have: so this
 * predicate uses only the spec's fields (buildDefinition, runDetails), with what layerstack
 * records in `externalParameters` / `internalParameters`, which the spec leaves free.
 *
 * It records the flake reference and the same reference locked (`nix flake metadata`: its
 * locked URL, and the git revision or NAR hash it pins), the attribute, the drvPath, the
 * builder (this machine, or the stack's Nix remote builders: Nix picks one of them per
 * derivation, so all are named), the parent image's digest and the stack. Pure; no timestamps,
 * so the same build gives the same bytes and re-running `up` re-attests nothing.
 */

/** What `nix flake metadata --json` says of the flake (the fields used). */
export interface FlakeMetadata {
    /** The reference as given, resolved (`originalUrl`) and locked (`url`, Nix 2.19 and later: `lockedUrl` before). */
    readonly originalUrl?: string;
    readonly url?: string;
    readonly lockedUrl?: string;
    readonly locked?: { readonly rev?: string; readonly narHash?: string; readonly lastModified?: number; readonly type?: string };
    readonly revision?: string;
}

/** The buildType URI of layerstack's layer builds: what the external parameters mean (README "Signatures, SBOM and provenance"). */
export const BUILD_TYPE = "https://layerstack.dev/provenance/nix-image-layer/v1";

/** The provenance v1 predicate type (what verify-attestation --type slsaprovenance1 checks). */
export const SLSA_PROVENANCE_V1 = "https://slsa.dev/provenance/v1";

export interface ProvenanceInput {
    /** The stack (`pulumi.getStack()`), and the Pulumi project. */
    readonly stack: string;
    readonly project: string;
    /** The layer id. */
    readonly layer: string;
    /** The flake reference as configured, and what Nix locked it to. */
    readonly flake: string;
    readonly flakeMetadata: FlakeMetadata;
    /** `packages.<system>.<attr>`. */
    readonly system: string;
    readonly attr: string;
    readonly drvPath: string;
    readonly outPath: string;
    /** The parent layer's image (`<repository>@sha256:...`); none for a root layer. */
    readonly parentImageRef?: string;
    /** The machines Nix may build on: none means this machine (`hostname`). */
    readonly builders?: readonly string[];
    /** This machine's name, where no remote builder is configured. */
    readonly hostname: string;
}

/** The locked reference: Nix 2.19+ prints it as `url`, older Nix as `lockedUrl`. */
export function lockedUrl(m: FlakeMetadata): string | undefined {
    return m.lockedUrl ?? m.url;
}

/** The SLSA provenance v1 predicate of one layer (an object; JSON.stringify it for cosign). */
export function layerProvenance(p: ProvenanceInput): Record<string, unknown> {
    const locked = lockedUrl(p.flakeMetadata);
    if (!locked) throw new Error(`layer ${p.layer}: provenance: nix flake metadata gave no locked reference for ${p.flake}`);
    const rev = p.flakeMetadata.locked?.rev ?? p.flakeMetadata.revision;
    const narHash = p.flakeMetadata.locked?.narHash;
    const flakeDigest: Record<string, string> = {};
    if (rev) flakeDigest.gitCommit = rev;
    if (narHash) flakeDigest.narHash = narHash;
    const parentDigest = p.parentImageRef ? p.parentImageRef.slice(p.parentImageRef.lastIndexOf("@") + 1) : undefined;
    const remote = p.builders && p.builders.length > 0;
    return {
        buildDefinition: {
            buildType: BUILD_TYPE,
            externalParameters: {
                flake: p.flake,
                attribute: `packages.${p.system}.${p.attr}`,
                stack: `${p.project}/${p.stack}`,
                layer: p.layer,
                ...(p.parentImageRef ? { parentImage: p.parentImageRef } : {}),
            },
            internalParameters: {
                drvPath: p.drvPath,
                outPath: p.outPath,
                lockedFlake: locked,
            },
            resolvedDependencies: [
                { name: "flake", uri: locked, ...(Object.keys(flakeDigest).length ? { digest: flakeDigest } : {}) },
                { name: "derivation", uri: `file://${p.drvPath}` },
                ...(p.parentImageRef && parentDigest?.startsWith("sha256:") ? [{ name: "parent", uri: p.parentImageRef, digest: { sha256: parentDigest.slice(7) } }] : []),
            ],
        },
        runDetails: {
            builder: remote
                ? { id: `nix-remote-builders:${[...p.builders!].sort().join(",")}` }
                : { id: `nix-local:${p.hostname}` },
        },
    };
}
