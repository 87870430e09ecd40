import { KILL_GRACE_SECONDS } from "../defaults";
import { shellQuote } from "./layer";

/**
 * Runs `script` with a time limit of its own that ends every process it started.
 *
 * The official command provider (pulumi-command v1.2.1, provider/pkg/provider/local/
 * commandOutputs.go: exec.CommandContext) ends a command that ran past its customTimeouts,
 * or that was cancelled, by SIGKILLing the direct child only: a `nix-store` or `skopeo`
 * below it runs on, and the provider then waits for it (its pipes stay open). So the limit
 * lives here:
 *
 *   - GNU `timeout` runs the script in a process group of its own, and when the limit
 *     (LAYERSTACK_TIMEOUT seconds) is reached sends TERM to that whole group, then KILL after
 *     KILL_GRACE_SECONDS. Nix, on TERM, stops its builders (they run in sessions of their
 *     own, which only Nix can reach).
 *   - `setpriv --pdeathsig TERM` makes `timeout` itself get TERM when the shell the provider
 *     started dies (the provider's SIGKILL on cancel), and `timeout` forwards it to the group.
 *
 * The step's name (LAYERSTACK_STEP) is printed when the limit ends it; stdin, stdout, stderr
 * and the exit status pass through. Needs GNU coreutils' `timeout` and util-linux's `setpriv`
 * (both on every Linux the stack targets).
 */
export function bounded(script: string): string {
    return `set -u
setpriv --pdeathsig TERM timeout --kill-after=${KILL_GRACE_SECONDS} "\${LAYERSTACK_TIMEOUT:?}" /bin/sh -c ${shellQuote(script)}
status=$?
if [ "$status" -eq 124 ]; then
  echo "\${LAYERSTACK_STEP:-command}: timed out after \${LAYERSTACK_TIMEOUT}s (its time limit); every process it started was stopped" >&2
fi
exit "$status"`;
}

/** The environment every bounded command carries: its time limit and its name in messages. */
export function boundedEnv(step: string, timeoutSeconds: number): { LAYERSTACK_STEP: string; LAYERSTACK_TIMEOUT: string } {
    if (!Number.isSafeInteger(timeoutSeconds) || timeoutSeconds < 1) throw new Error(`${step}: time limit must be a whole number of seconds >= 1, got ${timeoutSeconds}`);
    return { LAYERSTACK_STEP: step, LAYERSTACK_TIMEOUT: String(timeoutSeconds) };
}
