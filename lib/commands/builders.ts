import * as pulumi from "@pulumi/pulumi";
import { NixBuilders, machinesText } from "../builders";
import { shellQuote } from "../shell";
import { privateTempDir } from "./bounded";
import { ScriptEnv } from "./env";

/**
 * Runs a Nix command with the stack's remote builders (`layerstack:nixBuilders`, lib/builders.ts).
 *
 * Inputs: LAYERSTACK_NIX_BUILDERS (the machines, one line each, field 3 "-"),
 * LAYERSTACK_NIX_BUILDERS_SSH_KEY (secret), LAYERSTACK_NIX_BUILDERS_USE_SUBSTITUTES (optional).
 *
 * - The key goes to a file in a private directory (mktemp -d, umask 077) that a trap removes
 *   when the command ends, also on TERM/INT/HUP (the time limit of scriptStub, bounded.ts). Only the file's
 *   path reaches Nix, in each machine's field 3, which Nix hands to ssh as `-i <path>`
 *   (NixOS/nix 2.26.3 src/libstore/ssh.cc). The key itself is in no argv, no
 *   command text and no output, and leaves the environment before Nix starts.
 * - `builders = ...` (and `builders-use-substitutes`) are added to the stack's Nix settings,
 *   LAYERSTACK_NIX_CONFIG, which WITH_NIX_CONFIG (cache.ts) puts in front of the caller's own
 *   NIX_CONFIG: the stack's machines replace the system's (`@/etc/nix/machines` by default).
 * - ssh options go first in NIX_SSHOPTS, before the caller's (ssh takes the first value of an
 *   option): only the pinned host key (field 8, which Nix writes to its own known-hosts file)
 *   is accepted, never one from the system's known-hosts files or a prompt; the key file only;
 *   a connection attempt gives up after 30 s and a dead builder is noticed within a minute.
 *   Without a daemon, Nix's build hook (`nix __build-remote`) and its ssh inherit this
 *   environment. Through a daemon (a multi-user host), the daemon runs the hook with its own
 *   environment (NixOS/nix 2.26.3 src/libstore/unix/build/hook-instance.cc): these options do
 *   not reach it, the machines' key file and pinned host key (fields 3 and 8, which Nix hands
 *   to ssh itself) still do, and a port or other ssh options belong in the daemon user's
 *   (root's) ssh config. The daemon takes `builders` from a trusted user only (daemon.cc).
 *
 * The wrapped script runs as a child (not exec'd) so that the trap can remove the key once
 * Nix is done; scriptStub's `timeout` still ends the whole process group at its limit.
 */
export const WITH_BUILDERS = `set -eu
${privateTempDir("tmp")}
case "$tmp" in
  *[[:space:]\\;\\#]*) echo "nix builders: the temporary directory $tmp has a space, ';' or '#', which a builders line cannot hold: set TMPDIR to a plain path" >&2; exit 2 ;;
esac
(umask 077 && printf '%s\\n' "$LAYERSTACK_NIX_BUILDERS_SSH_KEY" > "$tmp/ssh-key")
unset LAYERSTACK_NIX_BUILDERS_SSH_KEY
machines=$(printf '%s\\n' "$LAYERSTACK_NIX_BUILDERS" | awk -v key="$tmp/ssh-key" 'NF { $3 = key; printf "%s%s", sep, $0; sep = " ; " }')
LAYERSTACK_NIX_CONFIG="\${LAYERSTACK_NIX_CONFIG:+$LAYERSTACK_NIX_CONFIG
}builders = $machines"
if [ -n "\${LAYERSTACK_NIX_BUILDERS_USE_SUBSTITUTES:-}" ]; then
  LAYERSTACK_NIX_CONFIG="$LAYERSTACK_NIX_CONFIG
builders-use-substitutes = $LAYERSTACK_NIX_BUILDERS_USE_SUBSTITUTES"
fi
export LAYERSTACK_NIX_CONFIG
NIX_SSHOPTS="-o StrictHostKeyChecking=yes -o GlobalKnownHostsFile=/dev/null -o UpdateHostKeys=no -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=30 -o ServerAliveInterval=15 -o ServerAliveCountMax=4\${NIX_SSHOPTS:+ $NIX_SSHOPTS}"
export NIX_SSHOPTS
unset LAYERSTACK_NIX_BUILDERS LAYERSTACK_NIX_BUILDERS_USE_SUBSTITUTES`;

/** \`script\` (which runs Nix through withNixConfig) with the stack's remote builders; see WITH_BUILDERS. */
export function withBuilders(script: string): string {
    return `${WITH_BUILDERS}\n/bin/sh -c ${shellQuote(script)}`;
}

/**
 * The environment WITH_BUILDERS reads: the machines (field 3 "-", field 8 the pinned host key),
 * the key (secret, marked so here) and, when the stack sets it, builders-use-substitutes.
 */
export function buildersEnv(b: NixBuilders): ScriptEnv {
    return {
        LAYERSTACK_NIX_BUILDERS: machinesText(b.machines),
        LAYERSTACK_NIX_BUILDERS_SSH_KEY: pulumi.secret(b.sshKey),
        ...(b.useSubstitutes !== undefined ? { LAYERSTACK_NIX_BUILDERS_USE_SUBSTITUTES: String(b.useSubstitutes) } : {}),
    };
}
