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

import { COPY_TO_PUSH, IMAGE_KIND, IMAGE_SOURCE } from "./image";

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
 *   LAYERSTACK_LAYER           the layer id, for messages
 *   LAYERSTACK_FORMAT          optional override of the detected kind: oci | docker-archive | stream
 *   LAYERSTACK_COPY_TO_DRV, LAYERSTACK_COPY_TO_MAIN  optional: the attribute's copyTo (nix2container)
 *   LAYERSTACK_REGISTRY        host[:port]; LAYERSTACK_TLS_VERIFY true|false
 *   LAYERSTACK_REPOSITORY      <registry>/<path>; LAYERSTACK_TAG the immutable tag
 *   LAYERSTACK_REGISTRY_USERNAME, LAYERSTACK_REGISTRY_PASSWORD (secret)  optional
 * The image's kind is detected from the output (lib/commands/image.ts) and an unknown kind
 * fails before the login and the push.
 * Prints the pushed manifest digest on the first line, then the manifest as pushed.
 */
export const PUSH_SCRIPT = `set -eu
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
out=$(nix-store --realise "$LAYERSTACK_DRV_PATH")
${IMAGE_KIND}
${REGISTRY_LOGIN}
${IMAGE_SOURCE}
if [ -n "$copy_to" ]; then
  ${COPY_TO_PUSH}
else
skopeo copy --quiet --retry-times 2 --dest-tls-verify="$LAYERSTACK_TLS_VERIFY" --digestfile "$tmp/digest" \\
  "$src" "docker://$LAYERSTACK_REPOSITORY:$LAYERSTACK_TAG" >&2
fi
exec 3>&-
digest=$(cat "$tmp/digest")
echo "$digest"
# exec drops the EXIT trap: remove the private directory (auth file included) first; the last
# skopeo reads the auth file through fd 4, which dies with it.
if [ -n "\${REGISTRY_AUTH_FILE:-}" ]; then exec 4<"$REGISTRY_AUTH_FILE"; export REGISTRY_AUTH_FILE=/dev/fd/4; fi
rm -rf "$tmp"
exec skopeo inspect --raw --tls-verify="$LAYERSTACK_TLS_VERIFY" "docker://$LAYERSTACK_REPOSITORY@$digest"`;

/** Plain HTTP for a registry on the loopback interface, as Docker does; TLS anywhere else. */
export function tlsVerify(registry: string): boolean {
    const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "");
    return !(host === "localhost" || host === "::1" || /^127\.\d+\.\d+\.\d+$/.test(host));
}
