/**
 * Every shell command the stack runs, in one place.
 *
 * The scripts are constants: the values they work on (derivation, image reference,
 * credentials) arrive as environment variables, so nothing is spliced into shell text and
 * no quoting can go wrong. Secrets arrive the same way, in `environment` marked secret,
 * and reach programs only through stdin or files inside a private temporary directory:
 * never argv, never the command text (which Pulumi prints in failure messages).
 * Each script ends in `exec` where it can, so a timeout that kills the command's process
 * group leaves no `nix` or `skopeo` running.
 */

import { isLoopbackRegistry } from "../reference";

/** Quotes a string for POSIX sh. For the rare place a value must appear in text (the docs). */
export function shellQuote(s: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Builds one layer. Inputs: LAYERSTACK_DRV_PATH. Prints the output path.
 * The derivation was instantiated by the program's single `nix eval`; building it by
 * drvPath means no second evaluation. Concurrent builds of layers that share work are
 * coordinated by Nix's own store locks.
 */
export const BUILD_SCRIPT = `set -eu
exec nix-store --realise "$LAYERSTACK_DRV_PATH"`;

/**
 * Logs in to the registry when a password is set, inside the command: the password goes to
 * skopeo on stdin and ends up only in a private auth file under $tmp, which the caller's
 * trap removes. Expects $tmp, LAYERSTACK_REGISTRY and LAYERSTACK_TLS_VERIFY.
 */
export const REGISTRY_LOGIN = `if [ -n "\${LAYERSTACK_REGISTRY_PASSWORD:-}" ]; then
  export REGISTRY_AUTH_FILE="$tmp/auth.json"
  printf '%s' "$LAYERSTACK_REGISTRY_PASSWORD" | skopeo login --authfile "$REGISTRY_AUTH_FILE" \\
    --tls-verify="$LAYERSTACK_TLS_VERIFY" --username "$LAYERSTACK_REGISTRY_USERNAME" --password-stdin \\
    "$LAYERSTACK_REGISTRY" >/dev/null
fi
unset LAYERSTACK_REGISTRY_PASSWORD`;

/**
 * Pushes one built layer. Inputs:
 *   LAYERSTACK_DRV_PATH        realised again first (a no-op unless garbage-collected)
 *   LAYERSTACK_FORMAT          oci | docker-archive | stream
 *   LAYERSTACK_REGISTRY        host[:port]; LAYERSTACK_TLS_VERIFY true|false
 *   LAYERSTACK_REPOSITORY      <registry>/<path>; LAYERSTACK_TAG the immutable tag
 *   LAYERSTACK_REGISTRY_USERNAME, LAYERSTACK_REGISTRY_PASSWORD (secret)  optional
 * Prints the pushed manifest digest on the first line, then the manifest as pushed.
 */
export const PUSH_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$(nix-store --realise "$LAYERSTACK_DRV_PATH")
${REGISTRY_LOGIN}
case "$LAYERSTACK_FORMAT" in
  oci) src="oci:$out" ;;
  docker-archive) src="docker-archive:$out" ;;
  stream) "$out" > "$tmp/image.tar"; src="docker-archive:$tmp/image.tar" ;;
  *) echo "unknown image format: $LAYERSTACK_FORMAT" >&2; exit 2 ;;
esac
skopeo copy --quiet --retry-times 2 --dest-tls-verify="$LAYERSTACK_TLS_VERIFY" --digestfile "$tmp/digest" \\
  "$src" "docker://$LAYERSTACK_REPOSITORY:$LAYERSTACK_TAG" >&2
digest=$(cat "$tmp/digest")
echo "$digest"
exec skopeo inspect --raw --tls-verify="$LAYERSTACK_TLS_VERIFY" "docker://$LAYERSTACK_REPOSITORY@$digest"`;

/** Plain HTTP for a registry on the loopback interface (any case: `LOCALHOST:5000`), as Docker does; TLS anywhere else. */
export function tlsVerify(registry: string): boolean {
    return !isLoopbackRegistry(registry);
}
