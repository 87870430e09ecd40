// The run table's detail of a failed layer, from what Nix 2.26.3 printed for a failed build
// (test/nix-recorded/2.26.3/build-failure.stderr) inside the command provider's error text.
import * as fs from "fs";
import * as path from "path";
import { lastLines } from "../scripts/run-table";

const failure = fs.readFileSync(path.join(__dirname, "nix-recorded/2.26.3/build-failure.stderr"), "utf8");

test("a failed build's detail starts at Nix's root cause, with the log's last lines", () => {
    const message = `exit status 1: running "setpriv ... layer03-gcc15-build":\n${failure}`;
    expect(lastLines(message).split("\n")).toEqual([
        "error: builder for '/nix/store/0dmilhk2gjjxpir61w058hynsj3q7wyk-recorded-broken.drv' failed with exit code 1;",
        "       last 1 log lines:",
        "       > this package is broken",
        "       For full logs, run:",
        "         nix log /nix/store/0dmilhk2gjjxpir61w058hynsj3q7wyk-recorded-broken.drv",
        "error: 1 dependencies of derivation '/nix/store/8d14pk555bard75q2y9jgk2sf37l2wg9-recorded-above.drv' failed to build",
    ]);
});

test("output without a failed builder: its last lines, without the provider's command line", () => {
    expect(lastLines('exit status 2: running "x":\na\nb\n\nc\nd\ne\nf\ng\n', 3)).toBe("e\nf\ng");
    expect(lastLines('exit status 2: running "x":\nonly\n')).toBe("only");
});
