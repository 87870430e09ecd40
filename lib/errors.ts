import * as pulumi from "@pulumi/pulumi";

/**
 * An error the user can act on. Pulumi prints a RunError's message without a stack trace,
 * so the message must say what is wrong and where (the config key or the layer).
 */
export class LayerstackError extends pulumi.RunError {
    constructor(message: string) {
        super(message);
        this.name = "LayerstackError";
    }
}

/** Several problems found at once, reported together so the user fixes them in one go. */
export function raiseAll(problems: string[]): void {
    if (problems.length === 1) throw new LayerstackError(problems[0]);
    if (problems.length > 1) {
        throw new LayerstackError(`${problems.length} problems:\n` + problems.map((p) => `  - ${p}`).join("\n"));
    }
}
