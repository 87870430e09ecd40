import { KILL_GRACE_SECONDS } from "../defaults";

/**
 * The text of every command the stack runs (`create` of a build, push, check, promote, cache
 * push...): one line that runs the script given in the command's environment as
 * LAYERSTACK_SCRIPT (scriptEnv), with the step's resource name as `$0`, under a time limit of
 * its own that ends every process the script started.
 *
 * One line, because the official command provider fails with
 * `<err>: running "<command>":\n<output>` (pulumi/pulumi-command, provider/pkg/provider/local
 * commandOutputs.go: `fmt.Errorf("%w: running %q:\n%s", err, command, stdouterrbuf)`): a
 * failure then names the step and shows its last lines of output, not an escaped script.
 *
 * Its own time limit, because that provider ends a command that ran past its customTimeouts,
 * or that was cancelled, by SIGKILLing the direct child only (exec.CommandContext): a
 * `nix-store` or `skopeo` below it runs on, and the provider then waits for it. So:
 *   - GNU `timeout` runs the script in a process group of its own and, at LAYERSTACK_TIMEOUT
 *     seconds, sends TERM to that whole group, then KILL after KILL_GRACE_SECONDS. Nix, on
 *     TERM, stops its builders (they run in sessions of their own, which only Nix reaches).
 *   - `setpriv --pdeathsig TERM` makes `timeout` itself get TERM when this line's shell, the
 *     provider's direct child, dies (the provider's SIGKILL), and `timeout` forwards it.
 * stdin, stdout, stderr and the exit status pass through; at the limit the step says so.
 * Needs GNU coreutils' `timeout` and util-linux's `setpriv` (on every Linux the stack targets).
 * The script stays a constant (never a secret in it); `step` is a resource name (lowercase
 * letters, digits and `.-_`, lib/graph.ts LAYER_ID), so it needs no quoting.
 */
export function scriptStub(step: string): string {
    if (!/^[a-z0-9._-]+$/.test(step)) throw new Error(`not a step name: ${JSON.stringify(step)}`);
    return `setpriv --pdeathsig TERM timeout --kill-after=${KILL_GRACE_SECONDS} "$LAYERSTACK_TIMEOUT" sh -c "$LAYERSTACK_SCRIPT" ${step}; s=$?; `
        + `[ $s -ne 124 ] || echo "${step}: timed out after \${LAYERSTACK_TIMEOUT}s (its time limit); every process it started was stopped" >&2; exit $s`;
}

/** The environment scriptStub runs: the script and its time limit in whole seconds. */
export function scriptEnv(script: string, timeoutSeconds: number): { LAYERSTACK_SCRIPT: string; LAYERSTACK_TIMEOUT: string } {
    if (!Number.isSafeInteger(timeoutSeconds) || timeoutSeconds < 1) throw new Error(`time limit must be a whole number of seconds >= 1, got ${timeoutSeconds}`);
    return { LAYERSTACK_SCRIPT: script, LAYERSTACK_TIMEOUT: String(timeoutSeconds) };
}

/**
 * sh lines that make a private temporary directory (mktemp -d) in \`$<variable>\` and remove it
 * when the script ends, also on HUP, INT and TERM (the time limit of scriptStub), which end the
 * script with the usual status. For a secret's file (a key, a netrc) that must not outlive it.
 */
export function privateTempDir(variable: string): string {
    return `${variable}=$(mktemp -d)
trap 'rm -rf "$${variable}"' EXIT
trap 'exit 129' HUP
trap 'exit 130' INT
trap 'exit 143' TERM`;
}
