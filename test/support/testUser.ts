// The user production runs Nix as on a GPU host: not root, not in the daemon's trusted-users.
// One system user for the whole run (created once); each project gets a home of its own.
import { execFileSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

export const UNTRUSTED_USER = "layerstack-nixuser";

export interface TestUser {
    readonly name: string;
    readonly uid: number;
    readonly gid: number;
    readonly home: string;
}

/** The untrusted user, with a fresh home directory (its HOME). Needs root. */
export function untrustedUser(): TestUser {
    if (process.getuid?.() !== 0) throw new Error("test/support/testUser.ts needs root: it creates a system user for the daemon not to trust");
    try {
        execFileSync("id", ["-u", UNTRUSTED_USER], { stdio: "ignore" });
    } catch {
        execFileSync("useradd", ["--system", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/bin/sh", UNTRUSTED_USER]);
    }
    const uid = Number(execFileSync("id", ["-u", UNTRUSTED_USER], { encoding: "utf8" }).trim());
    const gid = Number(execFileSync("id", ["-g", UNTRUSTED_USER], { encoding: "utf8" }).trim());
    const home = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-nixuser-home-"));
    fs.chownSync(home, uid, gid);
    return { name: UNTRUSTED_USER, uid, gid, home };
}

/** Gives `user` every file and directory under `dir` (and `dir`). */
export function chownTree(dir: string, user: TestUser): void {
    execFileSync("chown", ["-R", "--no-dereference", `${user.uid}:${user.gid}`, dir]);
}
