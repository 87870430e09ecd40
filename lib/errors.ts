import * as pulumi from "@pulumi/pulumi";

/**
 * An error the user can act on. Pulumi prints a RunError's message without a stack trace,
 * so the message must say what is wrong and where (the config key or the layer).
 *
 * Its stack holds no frames either. Pulumi never shows them, but its handler of a program's
 * uncaught error (@pulumi/pulumi cmd/run/run.ts uncaughtHandler) also writes every error into
 * its tracing span through `util.inspect` (cmd/run/error.ts defaultErrorMessage), and for an
 * error thrown from the program's asynchronous part (index.ts awaits the evaluation) that
 * inspection of the frames took 30 s and 3.4 GB of memory here (Node 20, Pulumi 3.248; the same
 * error with no frames: none of it).
 */
export class LayerstackError extends pulumi.RunError {
    constructor(message: string) {
        super(message);
        this.name = "LayerstackError";
        this.stack = `${this.name}: ${message}`;
    }
}

/** Several problems found at once, reported together so the user fixes them in one go. */
export function raiseAll(problems: string[]): void {
    if (problems.length === 1) throw new LayerstackError(problems[0]);
    if (problems.length > 1) {
        throw new LayerstackError(`${problems.length} problems:\n` + problems.map((p) => `  - ${p}`).join("\n"));
    }
}
