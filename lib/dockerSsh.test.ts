import { spawn } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as pulumi from "@pulumi/pulumi";
import { installMocks, isSecret, valueOf } from "../test/support/mocks";
import { dockerSshBaseOptions, dockerSshKeyDir, dockerSshOptions, privateDir, writeKeyFile } from "./dockerSsh";

installMocks();
const HOST_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHostKey";
const KEY = "-----BEGIN OPENSSH PRIVATE KEY-----\nsentinel\n-----END OPENSSH PRIVATE KEY-----";
const root = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-dockerssh-"));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe("the Docker provider's ssh options for the runner", () => {
    test("the pinned host key through KnownHostsCommand, no known_hosts file, no config, no prompt", () => {
        expect(dockerSshBaseOptions(HOST_KEY)).toEqual([
            "-F", "none",
            "-o", "BatchMode=yes", "-o", "ConnectTimeout=30", "-o", "ServerAliveInterval=15", "-o", "ServerAliveCountMax=4",
            "-o", "StrictHostKeyChecking=yes", "-o", "UserKnownHostsFile=/dev/null", "-o", "GlobalKnownHostsFile=/dev/null",
            "-o", "HostKeyAlias=layerstack-runner", "-o", `KnownHostsCommand=/bin/echo layerstack-runner ${HOST_KEY}`, "-o", "UpdateHostKeys=no",
        ]);
    });

    test("with the key: a 0600 file in a private directory at a path stable per stack; the options are not secret", async () => {
        const dir = path.join(root, "stack-a");
        const opts = dockerSshOptions({ hostKey: HOST_KEY, privateKey: pulumi.secret(KEY) }, dir);
        expect(await valueOf(opts)).toEqual([...dockerSshBaseOptions(HOST_KEY), "-o", "IdentitiesOnly=yes", "-o", "IdentityAgent=none", "-i", path.join(dir, "id")]);
        expect(await isSecret(opts)).toBe(false);
        expect(fs.readFileSync(path.join(dir, "id"), "utf8")).toBe(KEY + "\n");
        expect(fs.statSync(path.join(dir, "id")).mode & 0o777).toBe(0o600);
        expect(fs.statSync(dir).mode & 0o777).toBe(0o700);
        expect(dockerSshKeyDir("layerstack", "cu130", "/t")).toBe(dockerSshKeyDir("layerstack", "cu130", "/t"));
        expect(dockerSshKeyDir("layerstack", "cu130", "/t")).not.toBe(dockerSshKeyDir("layerstack", "cu128", "/t"));
        expect(dockerSshKeyDir("layerstack", "cu130", "/t")).toMatch(/^\/t\/layerstack-ssh-\d+-[0-9a-f]{12}$/);
    });

    test("with the agent: nothing written", async () => {
        const dir = path.join(root, "agent");
        expect(await valueOf(dockerSshOptions({ hostKey: HOST_KEY, agent: true }, dir))).toEqual(dockerSshBaseOptions(HOST_KEY));
        expect(fs.existsSync(dir)).toBe(false);
    });

    test("a directory that is not private to this user, or a link, is refused", () => {
        const open = path.join(root, "open");
        fs.mkdirSync(open, { mode: 0o755 });
        fs.chmodSync(open, 0o755);
        expect(() => privateDir(open)).toThrow(`${open} is not a private directory of this user (mode 0700): refusing to put the runner's SSH key there`);
        const target = path.join(root, "target");
        fs.mkdirSync(target, { mode: 0o700 });
        fs.symlinkSync(target, path.join(root, "link"));
        expect(() => writeKeyFile(path.join(root, "link"), KEY, process.pid)).toThrow("is not a private directory of this user");
        expect(fs.readdirSync(target)).toEqual([]);
    });

    test("the key goes once the process it watches (the engine) has exited", async () => {
        const engine = spawn("sleep", ["1"]);
        const dir = path.join(root, "watched");
        writeKeyFile(dir, KEY, engine.pid);
        expect(fs.existsSync(path.join(dir, "id"))).toBe(true);
        await new Promise((r) => engine.on("exit", r));
        await new Promise((r) => setTimeout(r, 2500));
        expect(fs.existsSync(dir)).toBe(false);
    });
});
