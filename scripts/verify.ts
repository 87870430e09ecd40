// npm run verify -- --stack <stack> [--key <cosign.pub>]
//
// Checks every layer of a stack's `layers` output with cosign (issue 23), as a consumer would:
// the signature of what the layer's immutable tag points at, that it is the digest the stack
// published, and its two attestations (CycloneDX SBOM, SLSA provenance v1). Prints a table, and
// fails at the first layer that does not verify, naming it.
//
//   --key FILE   the public key to trust. @default the stack's layerstack:signingPublicKey
//   --stack S    the stack. @default dev
//
// Credentials: a stack with layerstack:registryUsername gets its password from `pulumi config
// get` (never printed) into a private Docker config that only cosign reads (go-containerregistry
// pkg/authn/keychain.go: $DOCKER_CONFIG/config.json), removed when the script ends; otherwise
// cosign uses yours. No transparency log here: key pairs are verified with
// --insecure-ignore-tlog (cosign v2.6.5 cmd/cosign/cli/options/verify.go); a loopback registry
// is plain HTTP (--allow-http-registry).
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { PROVENANCE_PREDICATE, SBOM_PREDICATE } from "../lib/commands/sign";
import { isLoopbackRegistry } from "../lib/reference";
import { NS } from "../settings";

interface Layer { tag: string; repository: string; digest: string; imageRef: string }

function arg(name: string): string | undefined {
    const i = process.argv.indexOf(`--${name}`);
    return i >= 0 ? process.argv[i + 1] : undefined;
}

function pulumi(args: string[]): string {
    const r = spawnSync("pulumi", [...args, "--non-interactive"], { encoding: "utf8", maxBuffer: 256 * 1024 * 1024 });
    if (r.error) throw new Error(`pulumi: ${r.error.message}`);
    // Never echo a `config get` of a secret: its stderr only.
    if (r.status !== 0) throw new Error(`pulumi ${args[0]} ${args[1] ?? ""} failed:\n${r.stderr.trim()}`);
    return r.stdout;
}

function main(): number {
    const stack = arg("stack") ?? "dev";
    const config = JSON.parse(pulumi(["config", "--json", "--stack", stack])) as Record<string, { value?: string; secret?: boolean }>;
    const keyFile = arg("key");
    const publicKey = keyFile ? fs.readFileSync(keyFile, "utf8") : config[`${NS}:signingPublicKey`]?.value;
    if (!publicKey) {
        console.error(`verify: stack ${stack} has no ${NS}:signingPublicKey, and no --key <cosign.pub> was given`);
        return 2;
    }
    const layers = JSON.parse(pulumi(["stack", "output", "--json", "layers", "--stack", stack])) as Record<string, Layer>;
    const ids = Object.keys(layers);
    if (ids.length === 0) {
        console.error(`verify: stack ${stack} has no layers in its outputs (run pulumi up first)`);
        return 2;
    }
    const registry = config[`${NS}:registry`]?.value ?? "";
    const tmp = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-verify-"));
    try {
        const env: NodeJS.ProcessEnv = { ...process.env, LAYERSTACK_VERIFY_KEY: publicKey };
        const user = config[`${NS}:registryUsername`]?.value;
        if (user && config[`${NS}:registryPassword`]) {
            const password = pulumi(["config", "get", `${NS}:registryPassword`, "--stack", stack]).replace(/\n$/, "");
            const auth = Buffer.from(`${user}:${password}`).toString("base64");
            fs.mkdirSync(path.join(tmp, "docker"), { mode: 0o700 });
            fs.writeFileSync(path.join(tmp, "docker", "config.json"), JSON.stringify({ auths: { [registry]: { auth } } }), { mode: 0o600 });
            env.DOCKER_CONFIG = path.join(tmp, "docker");
        }
        const http = isLoopbackRegistry(registry) ? ["--allow-http-registry"] : [];
        const cosign = (args: string[]) => spawnSync("cosign", [...args, "--key", "env://LAYERSTACK_VERIFY_KEY", "--insecure-ignore-tlog", ...http], { encoding: "utf8", env, maxBuffer: 256 * 1024 * 1024 });
        const rows: string[][] = [];
        const header = ["layer", "digest", "signature", "sbom (cyclonedx)", "provenance (slsa v1)"];
        const print = () => {
            const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
            for (const r of [header, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  ").trimEnd());
        };
        for (const id of ids) {
            const l = layers[id];
            // What a consumer pulls: the layer's tag. Its signature must verify, and name the stack's digest.
            const ref = `${l.repository}:${l.tag}`;
            const row = [id, l.digest.slice(0, 19), "-", "-", "-"];
            rows.push(row);
            const fail = (what: string, out: string) => {
                row[row.indexOf("-")] = "FAILED";
                print();
                console.error(`\nverify: layer ${id} does not verify: ${what} (${ref})\n${out.trim().split("\n").slice(-8).join("\n")}`);
                return 1;
            };
            const sig = cosign(["verify", ref]);
            if (sig.status !== 0) return fail("no valid signature", sig.stderr);
            const signed = (JSON.parse(sig.stdout) as { critical: { image: { "docker-manifest-digest": string } } }[]).map((s) => s.critical.image["docker-manifest-digest"]);
            if (!signed.includes(l.digest)) return fail(`the tag points at ${signed.join(", ")}, not at the digest the stack published, ${l.digest}`, "");
            row[2] = "ok";
            for (const [col, type] of [[3, SBOM_PREDICATE], [4, PROVENANCE_PREDICATE]] as const) {
                const att = cosign(["verify-attestation", "--type", type, ref]);
                if (att.status !== 0) return fail(`no valid ${type} attestation`, att.stderr);
                row[col] = "ok";
            }
        }
        print();
        console.log(`\nverify: all ${ids.length} layers of stack ${stack} are signed, with a CycloneDX SBOM and SLSA provenance`);
        return 0;
    } finally {
        fs.rmSync(tmp, { recursive: true, force: true });
    }
}

process.exitCode = main();
