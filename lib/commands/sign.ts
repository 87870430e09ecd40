/**
 * Signing and attesting a published layer with cosign (issue 23), by digest, never a tag:
 *
 *   OWN_STORE_PATHS_SCRIPT  which Nix store paths the layer's own blob (its image's last layer)
 *                           holds, and what `nix path-info --json` says of them: what the SBOM
 *                           is made from (lib/sbom.ts)
 *   SIGN_SCRIPT             `cosign sign`, then `cosign attest` of the SBOM (cyclonedx) and the
 *                           provenance (slsaprovenance1), then `cosign verify` of all three
 *
 * cosign (v2.6.5, pinned by tools/cosign/go.mod) keeps what it attaches under its tag scheme,
 * `<repository>:sha256-<hex>.sig` and `.att` (pkg/oci/remote/remote.go SignatureTag /
 * AttestationTag: the digest with ':' made '-', plus the suffix): GHCR has no OCI 1.1 referrers
 * API, and v2's `--new-bundle-format` is off unless asked for (cmd/cosign/cli/options/sign.go,
 * attest.go), so these scripts never pass it. (v3 turns it on by default and attaches through
 * the referrers API: that is why v2 is pinned.)
 *
 * Secrets: the private key (PEM, cosign's encrypted format) arrives as secret environment
 * LAYERSTACK_SIGNING_KEY and is handed to cosign as `--key env://LAYERSTACK_SIGNING_KEY`: cosign
 * reads the named variable itself (pkg/blob/load.go LoadFileOrURL, case "env://"), so the
 * variable's name is in argv and its value never is. The key's password arrives as
 * LAYERSTACK_SIGNING_KEY_PASSWORD and becomes COSIGN_PASSWORD, which cosign reads for the
 * key's password (cmd/cosign/cli/generate/generate_key_pair.go readPasswordFn,
 * env.VariablePassword in pkg/cosign/env/env.go); without it cosign would read stdin or a
 * terminal. The registry password goes to skopeo on stdin (REGISTRY_LOGIN), and from the auth
 * file skopeo writes to cosign, which reads it as a Docker config (go-containerregistry
 * pkg/authn/keychain.go: $DOCKER_CONFIG/config.json). Nothing here prints any of them.
 *
 * No transparency log and no Fulcio here (the dev world has no network): `--tlog-upload=false`
 * when signing and attesting (options/sign.go, options/attest.go), `--insecure-ignore-tlog`
 * when verifying (options/verify.go). A loopback registry is plain HTTP:
 * `--allow-http-registry` (options/registry.go).
 */
import type * as pulumi from "@pulumi/pulumi";
import * as pulumiRt from "@pulumi/pulumi";
import { DEFAULT_TIMEOUTS } from "../defaults";
import type { RegistryAuth } from "../registry";
import { privateTempDir, scriptEnv } from "./bounded";
import { WITH_NIX_CONFIG } from "./cache";
import { ScriptEnv, layerEnv, nixConfigEnv, registryEnv } from "./env";
import { REGISTRY_LOGIN } from "./layer";

/** The predicate types the layer's attestations have: cosign's `--type` names (options/predicate.go). */
export const SBOM_PREDICATE = "cyclonedx";
export const PROVENANCE_PREDICATE = "slsaprovenance1";

/** cosign's tag of what it attaches to `digest` (`sha256:<hex>`): `sha256-<hex>.sig` / `.att` (pkg/oci/remote/remote.go). */
export function attachmentTag(digest: string, kind: "sig" | "att"): string {
    return `${digest.replace(":", "-")}.${kind}`;
}

/** Every tag cosign may attach to a digest under its tag scheme: signatures, attestations and (cosign attach sbom) SBOMs. */
export function attachmentTags(digest: string): string[] {
    return ["sig", "att", "sbom"].map((k) => `${digest.replace(":", "-")}.${k}`);
}

/**
 * After REGISTRY_LOGIN: cosign reads the same credentials as a Docker config in a private
 * directory (never the user's own ~/.docker), and speaks plain HTTP to a loopback registry.
 */
const COSIGN_REGISTRY = `export DOCKER_CONFIG="$tmp/docker"
mkdir -m 700 "$DOCKER_CONFIG"
if [ -f "$tmp/auth.json" ]; then cp "$tmp/auth.json" "$DOCKER_CONFIG/config.json"; fi
http=''
[ "$LAYERSTACK_TLS_VERIFY" = true ] || http=--allow-http-registry`;

/**
 * The registry's answer to an authenticated request, for curl: basic credentials in a netrc
 * file, or a bearer token from the registry's token service (distribution's
 * docs/spec/auth/token.md) in a header file; never in argv. Sets $auth (curl options).
 * Expects $tmp; LAYERSTACK_REGISTRY_USERNAME and the password (read before REGISTRY_LOGIN unsets it) in $pw.
 */
const CURL_AUTH = `base=https
[ "$LAYERSTACK_TLS_VERIFY" = true ] || base=http
base="$base://$LAYERSTACK_REGISTRY"
url="$base/v2/$repo/blobs/$blob"
: > "$tmp/netrc"
chmod 600 "$tmp/netrc"
if [ -n "$pw" ]; then
  printf 'machine %s login %s password %s\\n' "\${LAYERSTACK_REGISTRY%%:*}" "$LAYERSTACK_REGISTRY_USERNAME" "$pw" > "$tmp/netrc"
fi
pw=''
code=$(curl -sS -o /dev/null -D "$tmp/headers" -w '%{http_code}' --netrc-file "$tmp/netrc" -I "$url")
set -- --netrc-file "$tmp/netrc"
if [ "$code" = 401 ]; then
  challenge=$(tr -d '\\r' < "$tmp/headers" | sed -n 's/^[Ww][Ww][Ww]-[Aa]uthenticate: *[Bb]earer *//p' | head -n 1)
  realm=$(printf '%s' "$challenge" | sed -n 's/.*realm="\\([^"]*\\)".*/\\1/p')
  service=$(printf '%s' "$challenge" | sed -n 's/.*service="\\([^"]*\\)".*/\\1/p')
  if [ -z "$realm" ]; then
    echo "layer $LAYERSTACK_LAYER: registry $LAYERSTACK_REGISTRY refused the stack's credentials for $repo (HTTP 401)" >&2
    exit 1
  fi
  token=$(curl -fsS --netrc-file "$tmp/netrc" -G --data-urlencode "scope=repository:$repo:pull" \${service:+--data-urlencode "service=$service"} "$realm" \\
    | tr -d '\\n' | sed -n 's/.*"\\(access_\\)\\{0,1\\}token" *: *"\\([^"]*\\)".*/\\2/p')
  if [ -z "$token" ]; then
    echo "layer $LAYERSTACK_LAYER: the token service of registry $LAYERSTACK_REGISTRY gave no token for $repo" >&2
    exit 1
  fi
  printf 'Authorization: Bearer %s\\n' "$token" > "$tmp/authorization"
  token=''
  set -- -H "@$tmp/authorization"
elif [ "$code" != 200 ]; then
  echo "layer $LAYERSTACK_LAYER: registry $LAYERSTACK_REGISTRY: HEAD of blob $blob of $repo answered HTTP $code" >&2
  exit 1
fi`;

/**
 * Prints the store paths the layer's own blob holds, then `nix path-info --json` of them:
 *
 *   <blob digest>
 *   <store path>        (one per line, sorted; none for a blob without store paths)
 *   --
 *   <nix path-info --json of those paths>   ({} for none)
 *
 * The own blob is the last layer of the pushed manifest (skopeo inspect's Layers; skopeo 1.9.3,
 * Debian bookworm's, has no LayersData, so its media type is read from the raw manifest): the one
 * layer an image adds to its parent's (design 4). It is streamed from the registry (curl, the
 * distribution API's blob GET) through its decompressor into `tar -t`, never written to disk,
 * so it works for every image kind, copyTo included, and wherever the layer was built. A path
 * counts when the tar has an entry `nix/store/<32 characters>-<name>` or below it (with or
 * without a leading `./` or `/`). A path the store lacks is substituted first (the stack's
 * substituters; a private cache's netrc is not given to this step). Inputs: LAYERSTACK_IMAGE_REF (`<registry>/<path>@sha256:...`),
 * LAYERSTACK_REPOSITORY_PATH, the registry (registryEnv), LAYERSTACK_LAYER, the stack's Nix
 * settings (WITH_NIX_CONFIG).
 */
export const OWN_STORE_PATHS_SCRIPT = `set -eu
${privateTempDir("tmp")}
${WITH_NIX_CONFIG}
pw="\${LAYERSTACK_REGISTRY_PASSWORD:-}"
${REGISTRY_LOGIN}
repo=$LAYERSTACK_REPOSITORY_PATH
blob=$(skopeo inspect --tls-verify="$LAYERSTACK_TLS_VERIFY" --format '{{range .Layers}}{{println .}}{{end}}' "docker://$LAYERSTACK_IMAGE_REF" | sed '/^$/d' | tail -n 1)
# Its media type, from the manifest's descriptor of that digest (one descriptor a line: split at '{').
media=$(skopeo inspect --raw --tls-verify="$LAYERSTACK_TLS_VERIFY" "docker://$LAYERSTACK_IMAGE_REF" | tr '{' '\\n' | grep -F "\\"$blob\\"" \\
  | sed -n 's/.*"mediaType" *: *"\\([^"]*\\)".*/\\1/p' | head -n 1)
case $blob in sha256:*) ;; *) echo "layer $LAYERSTACK_LAYER: $LAYERSTACK_IMAGE_REF has no layers" >&2; exit 1 ;; esac
case $media in
  *gzip) unpack='gzip -dc' ;;
  *zstd) unpack='zstd -dcq' ;;
  *tar) unpack='cat' ;;
  *) echo "layer $LAYERSTACK_LAYER: its own blob $blob has the media type $media, which is no tar layer" >&2; exit 1 ;;
esac
${CURL_AUTH}
curl -fsSL "$@" "$url" | $unpack | tar -tf - > "$tmp/entries"
sed -n 's#^\\(\\./\\)\\{0,1\\}/\\{0,1\\}\\(nix/store/[0-9a-df-np-sv-z]\\{32\\}-[^/]*\\).*#/\\2#p' "$tmp/entries" | LC_ALL=C sort -u > "$tmp/paths"
echo "$blob"
cat "$tmp/paths"
echo --
if [ -s "$tmp/paths" ]; then
  # Paths of the blob this store lacks (an image substituted from a binary cache: its contents were
  # never fetched here) are substituted now, with the stack's Nix settings, so Nix knows their NAR hashes.
  xargs nix-store --check-validity --print-invalid < "$tmp/paths" > "$tmp/missing"
  if [ -s "$tmp/missing" ] && ! xargs nix-store --realise < "$tmp/missing" > /dev/null 2> "$tmp/realise.err"; then
    echo "layer $LAYERSTACK_LAYER: its own blob holds store paths this machine's Nix neither has nor can substitute, so its SBOM cannot give their NAR hashes:" >&2
    tail -n 5 "$tmp/realise.err" >&2
    exit 1
  fi
  # One call for all of the blob's paths (xargs runs it once below ARG_MAX).
  xargs nix --extra-experimental-features nix-command path-info --json < "$tmp/paths"
else
  echo '{}'
fi`;

/** What OWN_STORE_PATHS_SCRIPT printed. */
export interface OwnStorePaths {
    readonly blob: string;
    readonly paths: string[];
    readonly pathInfo: string;
}

/** Reads OWN_STORE_PATHS_SCRIPT's stdout. */
export function parseOwnStorePaths(stdout: string): OwnStorePaths {
    const lines = stdout.split("\n");
    const sep = lines.indexOf("--");
    if (sep < 1 || !/^sha256:[0-9a-f]{64}$/.test(lines[0])) throw new Error(`the own store paths step printed no blob digest: ${stdout.slice(0, 200)}`);
    return { blob: lines[0], paths: lines.slice(1, sep).filter((l) => l !== ""), pathInfo: lines.slice(sep + 1).join("\n").trim() || "{}" };
}

/**
 * Signs LAYERSTACK_IMAGE_REF (by digest), attests its SBOM and provenance, and verifies all
 * three with the public key. stdin: the SBOM (one line of JSON), then the provenance predicate
 * (one line). Prints the digest it signed. `--replace` makes a second attestation of a type
 * replace the first (cmd/cosign/cli/attest/attest.go NewReplaceOp), and `cosign sign` adds no
 * second signature that the key already made for this payload (sign.go NewDupeDetector), so a
 * re-run (a restored signature) leaves one of each.
 * Inputs: LAYERSTACK_IMAGE_REF, LAYERSTACK_LAYER, the registry (registryEnv),
 * LAYERSTACK_SIGNING_KEY and LAYERSTACK_SIGNING_KEY_PASSWORD (secret),
 * LAYERSTACK_SIGNING_PUBLIC_KEY (PEM).
 */
export const SIGN_SCRIPT = `set -eu
${privateTempDir("tmp")}
cat > "$tmp/stdin"
sed -n 1p "$tmp/stdin" > "$tmp/sbom.json"
sed -n 2p "$tmp/stdin" > "$tmp/provenance.json"
if [ ! -s "$tmp/sbom.json" ] || [ ! -s "$tmp/provenance.json" ]; then
  echo "layer $LAYERSTACK_LAYER: signing: no SBOM or provenance on stdin" >&2
  exit 2
fi
${REGISTRY_LOGIN}
${COSIGN_REGISTRY}
COSIGN_PASSWORD=$LAYERSTACK_SIGNING_KEY_PASSWORD
export COSIGN_PASSWORD
unset LAYERSTACK_SIGNING_KEY_PASSWORD
ref=$LAYERSTACK_IMAGE_REF
step() {
  what=$1
  shift
  if ! "$@" > "$tmp/out" 2>&1; then
    echo "layer $LAYERSTACK_LAYER: cosign could not $what $ref:" >&2
    tail -n 20 "$tmp/out" >&2
    exit 1
  fi
}
step sign cosign sign --yes --key env://LAYERSTACK_SIGNING_KEY --tlog-upload=false $http "$ref"
step "attest the SBOM of" cosign attest --yes --key env://LAYERSTACK_SIGNING_KEY --tlog-upload=false --replace $http \\
  --type ${SBOM_PREDICATE} --predicate "$tmp/sbom.json" "$ref"
step "attest the provenance of" cosign attest --yes --key env://LAYERSTACK_SIGNING_KEY --tlog-upload=false --replace $http \\
  --type ${PROVENANCE_PREDICATE} --predicate "$tmp/provenance.json" "$ref"
unset COSIGN_PASSWORD LAYERSTACK_SIGNING_KEY
step "verify the signature of" cosign verify --key env://LAYERSTACK_SIGNING_PUBLIC_KEY --insecure-ignore-tlog $http "$ref"
for t in ${SBOM_PREDICATE} ${PROVENANCE_PREDICATE}; do
  step "verify the $t attestation of" cosign verify-attestation --key env://LAYERSTACK_SIGNING_PUBLIC_KEY --insecure-ignore-tlog $http --type "$t" "$ref"
done
echo "\${ref##*@}"`;

/** The key pair a stack signs with: the private key and its password are secret Outputs. */
export interface SigningKey {
    /** cosign's encrypted private key (PEM, `cosign generate-key-pair`). Must be a secret Output. */
    readonly privateKey: pulumi.Output<string>;
    /** Its password. Must be a secret Output. */
    readonly password: pulumi.Output<string>;
    /** The public key (PEM): the sign step verifies with it, and so do consumers. */
    readonly publicKey: string;
}

/** OWN_STORE_PATHS_SCRIPT's environment, under DEFAULT_TIMEOUTS.push (it reads the blob back). */
export function ownStorePathsEnv(p: {
    readonly layer: string;
    readonly imageRef: pulumi.Input<string>;
    readonly repositoryPath: string;
    readonly registry: string;
    readonly registryAuth?: RegistryAuth;
    readonly nixConfig?: pulumi.Input<string>;
}): ScriptEnv {
    return {
        ...scriptEnv(OWN_STORE_PATHS_SCRIPT, DEFAULT_TIMEOUTS.push),
        ...layerEnv({ id: p.layer }),
        LAYERSTACK_IMAGE_REF: p.imageRef,
        LAYERSTACK_REPOSITORY_PATH: p.repositoryPath,
        ...registryEnv(p.registry, p.registryAuth),
        ...nixConfigEnv(p.nixConfig),
    };
}

/** SIGN_SCRIPT's environment, under DEFAULT_TIMEOUTS.sign; the key and its password secret. */
export function signEnv(p: {
    readonly layer: string;
    readonly imageRef: pulumi.Input<string>;
    readonly registry: string;
    readonly registryAuth?: RegistryAuth;
    readonly key: SigningKey;
}): ScriptEnv {
    return {
        ...scriptEnv(SIGN_SCRIPT, DEFAULT_TIMEOUTS.sign),
        ...layerEnv({ id: p.layer }),
        LAYERSTACK_IMAGE_REF: p.imageRef,
        ...registryEnv(p.registry, p.registryAuth),
        LAYERSTACK_SIGNING_KEY: pulumiRt.secret(p.key.privateKey),
        LAYERSTACK_SIGNING_KEY_PASSWORD: pulumiRt.secret(p.key.password),
        LAYERSTACK_SIGNING_PUBLIC_KEY: p.key.publicKey,
    };
}
