// Nix remote builders for the layers' builds (`layerstack:nixBuilders`): the stack passes a
// Nix `builders` value through to the builds' Nix, which dispatches each derivation to the
// machines itself (the build hook, `nix __build-remote`). layerstack schedules nothing.
//
// What Nix 2.8 does with a machine line (NixOS/nix at 2.8.0):
// - src/libstore/machines.cc parseBuilderLine: whitespace-separated fields, "-" or empty for
//   "unset": 1 store URI, 2 systems (comma list; default this machine's), 3 SSH identity file,
//   4 max jobs, 5 speed factor, 6 supported features, 7 mandatory features, 8 the base64 of the
//   machine's public host key (checked to be base64). Lines are separated by newlines or ';'
//   (expandBuilderLines), and '#' starts a comment.
// - machines.cc Machine::openStore: for ssh:// and ssh-ng:// URIs, field 3 becomes the store's
//   `ssh-key` and field 8 its `base64-ssh-public-host-key`.
// - src/libstore/ssh.cc SSHMaster::addCommonSSHOpts: every `ssh` gets NIX_SSHOPTS (split on
//   whitespace) first, then `-i <ssh-key>` and, with a host key, `-oUserKnownHostsFile=<file>`
//   holding `<host> <decoded key>` (the URI's host, user stripped): so a pinned machine is
//   checked against that key only. The port is not part of it: a builder reached on another
//   port than 22 needs `HostKeyAlias=<host>` in the ssh options (see the README).
// - doc/manual/src/advanced-topics/distributed-builds.md: field 8 is
//   `base64 -w0 /etc/ssh/ssh_host_ed25519_key.pub`.
// - src/libstore/globals.hh: `builders-use-substitutes` makes the machines substitute build
//   inputs from their own substituters instead of receiving them all from this machine
//   (build-remote.cc: copyPaths(..., substitute)).
import * as pulumi from "@pulumi/pulumi";
import { HOST_KEY } from "./config";

const NS = "layerstack";
const key = (k: string) => `${NS}:${k}`;

/** One remote build machine, validated. */
export interface BuilderMachine {
    /** The store URI as Nix takes it, e.g. `ssh-ng://nix@builder1.example.com`. */
    readonly uri: string;
    /** The host part of the URI: its host key is looked up under this name. */
    readonly host: string;
    /** Nix systems it builds for. @default [] (Nix: this machine's system) */
    readonly systems: string[];
    /** Builds at once on it. @default Nix's 1 */
    readonly maxJobs?: number;
    /** @default Nix's 1 */
    readonly speedFactor?: number;
    readonly supportedFeatures: string[];
    readonly mandatoryFeatures: string[];
    /** `<type> <base64>`: the only host key SSH accepts for it. */
    readonly hostKey: string;
}

/** The builders a stack hands to Nix, with the SSH key still a secret Output. */
export interface NixBuilders {
    readonly machines: BuilderMachine[];
    /** `builders-use-substitutes`; unset leaves Nix's own setting. @default unset */
    readonly useSubstitutes?: boolean;
    /** The private key every machine is reached with (secret). */
    readonly sshKey: pulumi.Input<string>;
}

/** The raw builder keys (lib/config.ts RawConfig extends this); the key's value is never looked at. */
export interface RawBuildersConfig {
    /** A Nix `builders` value (lines separated by newlines or ';'), or a list of machine lines. */
    nixBuilders?: unknown;
    /** `{ "<host>": "ssh-ed25519 AAAA..." }`. */
    nixBuildersHostKeys?: unknown;
    nixBuildersUseSubstitutes?: string;
    hasNixBuildersSshKey?: boolean;
}

/** Reads the builder keys of a stack (the secret only as "is it set"). */
export function readBuildersConfig(cfg: pulumi.Config): RawBuildersConfig {
    const text = cfg.get("nixBuilders");
    return {
        // A YAML list arrives as its JSON text; a machine line never starts with '['.
        nixBuilders: text !== undefined && text.trim().startsWith("[") ? cfg.getObject<unknown>("nixBuilders") : text,
        nixBuildersHostKeys: cfg.getObject<unknown>("nixBuildersHostKeys"),
        nixBuildersUseSubstitutes: cfg.get("nixBuildersUseSubstitutes"),
        hasNixBuildersSshKey: cfg.getSecret("nixBuildersSshKey") !== undefined,
    };
}

const HOST = /^(?:[a-z0-9]([a-z0-9-]*[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;
const URI = /^(?<scheme>ssh|ssh-ng):\/\/(?:(?<user>[A-Za-z0-9._-]+)@)?(?<host>[^/?:@\s]+)(?<port>:[^/?\s]*)?(?<query>\?[^\s]*)?$/;
const SYSTEM = /^[a-z0-9_]+-[a-z0-9_]+$/;
const FEATURE = /^[A-Za-z0-9._+-]+$/;
/** Store URI parameters layerstack sets itself (Machine::openStore), so a line may not. */
const OWN_PARAMS = ["ssh-key", "base64-ssh-public-host-key"];

/**
 * Validates the builder keys. Pushes one problem per mistake (naming the key and the
 * machine) and returns the machines, or undefined when builders are not configured or wrong.
 */
export function validateBuilders(raw: RawBuildersConfig, problems: string[]): Omit<NixBuilders, "sshKey"> | undefined {
    const before = problems.length;
    if (raw.nixBuilders === undefined || raw.nixBuilders === "") {
        for (const k of ["nixBuildersHostKeys", "nixBuildersUseSubstitutes"] as const) {
            if (raw[k] !== undefined) problems.push(`${key(k)} is set but ${key("nixBuilders")} is not`);
        }
        if (raw.hasNixBuildersSshKey) problems.push(`${key("nixBuildersSshKey")} is set but ${key("nixBuilders")} is not`);
        return undefined;
    }
    let lines: string[];
    if (typeof raw.nixBuilders === "string") {
        lines = raw.nixBuilders.split(/[\n;]/);
    } else if (Array.isArray(raw.nixBuilders) && raw.nixBuilders.every((l) => typeof l === "string")) {
        lines = raw.nixBuilders as string[];
    } else {
        problems.push(`${key("nixBuilders")}: must be a Nix builders value (machine lines separated by newlines or ';') or a list of machine lines`);
        return undefined;
    }
    // As Nix reads them: '#' starts a comment, blank lines are skipped.
    lines = lines.map((l) => l.replace(/#.*$/, "").trim()).filter((l) => l !== "");
    if (lines.length === 0) problems.push(`${key("nixBuilders")}: no machine (a line is "ssh-ng://user@host [systems] - [max jobs] [speed factor] [features] [mandatory features]")`);

    const hostKeys = parseHostKeys(raw.nixBuildersHostKeys, problems);
    const machines: BuilderMachine[] = [];
    const seen = new Set<string>();
    const beforeMachines = problems.length;
    lines.forEach((line, i) => {
        const m = parseMachine(line, `${key("nixBuilders")}: machine ${i + 1} (${JSON.stringify(line.split(/\s+/)[0])})`, problems);
        if (!m) return;
        if (seen.has(m.uri)) return void problems.push(`${key("nixBuilders")}: machine ${i + 1}: ${m.uri} is listed twice`);
        seen.add(m.uri);
        const hk = hostKeys?.get(m.host);
        if (hostKeys && hk === undefined) {
            problems.push(`${key("nixBuildersHostKeys")} has no key for ${JSON.stringify(m.host)} (machine ${i + 1}): add the host's public key as \`ssh-keyscan -t ed25519 ${m.host}\` prints it, so that no other key is accepted`);
            return;
        }
        if (hk) machines.push({ ...m, hostKey: hk });
    });
    // A key for no machine is a typo (unless a machine line is wrong itself, which says so).
    if (hostKeys && problems.length === beforeMachines) {
        for (const h of hostKeys.keys()) {
            if (!lines.some((l) => hostOf(l) === h)) problems.push(`${key("nixBuildersHostKeys")}: ${JSON.stringify(h)} is not the host of any machine in ${key("nixBuilders")}`);
        }
    }
    if (!raw.hasNixBuildersSshKey) {
        problems.push(`${key("nixBuildersSshKey")} is required when ${key("nixBuilders")} is set: the private key the machines accept (set it with: pulumi config set --secret ${key("nixBuildersSshKey")} < key-file)`);
    }
    let useSubstitutes: boolean | undefined;
    if (raw.nixBuildersUseSubstitutes !== undefined) {
        if (raw.nixBuildersUseSubstitutes !== "true" && raw.nixBuildersUseSubstitutes !== "false") {
            problems.push(`${key("nixBuildersUseSubstitutes")}: ${JSON.stringify(raw.nixBuildersUseSubstitutes)} must be true or false`);
        } else useSubstitutes = raw.nixBuildersUseSubstitutes === "true";
    }
    if (problems.length > before) return undefined;
    return { machines, ...(useSubstitutes !== undefined ? { useSubstitutes } : {}) };
}

function hostOf(line: string): string | undefined {
    return URI.exec(line.trim().split(/\s+/)[0])?.groups?.host;
}

/** `nixBuildersHostKeys` as host -> `<type> <base64>`, or undefined (a problem is pushed) when missing or malformed. */
function parseHostKeys(value: unknown, problems: string[]): Map<string, string> | undefined {
    const k = key("nixBuildersHostKeys");
    if (value === undefined) {
        problems.push(`${k} is required when ${key("nixBuilders")} is set: {"<host>": "<its public key as ssh-keyscan -t ed25519 <host> prints it>"}, one per machine (SSH refuses any other host key)`);
        return undefined;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
        problems.push(`${k}: must be an object {"<host>": "ssh-ed25519 AAAA..."}`);
        return undefined;
    }
    const out = new Map<string, string>();
    let ok = true;
    for (const [host, v] of Object.entries(value as Record<string, unknown>)) {
        const m = typeof v === "string" ? HOST_KEY.exec(v.trim()) : null;
        if (!m) {
            ok = false;
            problems.push(`${k}.${host}: ${JSON.stringify(v)} is not an SSH public key ("ssh-ed25519 AAAA...", as ssh-keyscan prints it)`);
        } else out.set(host, `${m.groups!.type} ${m.groups!.key}`);
    }
    return ok ? out : undefined;
}

/** One machine line, checked field by field (machines.cc parseBuilderLine's fields). */
function parseMachine(line: string, where: string, problems: string[]): Omit<BuilderMachine, "hostKey"> | undefined {
    const f = line.split(/\s+/);
    const unset = (i: number) => f[i] === undefined || f[i] === "-";
    const bad = (msg: string) => { problems.push(`${where}: ${msg}`); return undefined; };
    if (f.length > 8) return bad(`has ${f.length} fields; a machine line has at most 8`);
    if (f[0].startsWith("@")) return bad("a machines file (@file) cannot be used: layerstack fills in each machine's SSH key and host key, so list the machines themselves");
    const u = URI.exec(f[0]);
    if (!u) return bad(`${JSON.stringify(f[0])} is not an ssh-ng:// or ssh:// store URI (e.g. "ssh-ng://nix@builder1.example.com")`);
    const g = u.groups!;
    if (g.port !== undefined) return bad(`Nix 2.8 takes no port in a builder's URI (it hands "user@host:port" to ssh as a host name): use port 22, or a Host entry with Port and HostKeyAlias in the ssh config of the user running Nix`);
    if (!HOST.test(g.host)) return bad(`${JSON.stringify(g.host)} is not a host name or IPv4 address`);
    if (g.query !== undefined) {
        for (const p of g.query.slice(1).split("&")) {
            const name = p.split("=")[0];
            if (OWN_PARAMS.includes(name)) return bad(`the URI may not set ${name}: layerstack sets the key (${key("nixBuildersSshKey")}) and the host key (${key("nixBuildersHostKeys")})`);
        }
    }
    const list = (i: number, re: RegExp, what: string): string[] | undefined => {
        if (unset(i)) return [];
        const items = f[i].split(",");
        return items.every((s) => re.test(s)) ? items : bad(`field ${i + 1} ${JSON.stringify(f[i])} is not a comma-separated list of ${what}`);
    };
    const uint = (i: number, what: string): number | undefined | null => {
        if (unset(i)) return undefined;
        return /^\d{1,9}$/.test(f[i]) ? Number(f[i]) : (bad(`field ${i + 1} (${what}) ${JSON.stringify(f[i])} must be a whole number`), null);
    };
    const systems = list(1, SYSTEM, "Nix systems (e.g. x86_64-linux)");
    if (!unset(2)) return bad(`field 3 (the SSH key) must be "-": layerstack writes ${key("nixBuildersSshKey")} to a private file and puts its path there`);
    const maxJobs = uint(3, "max jobs");
    const speedFactor = uint(4, "speed factor");
    const supportedFeatures = list(5, FEATURE, "features");
    const mandatoryFeatures = list(6, FEATURE, "features");
    if (!unset(7)) return bad(`field 8 (the host key) must be "-": layerstack puts the key from ${key("nixBuildersHostKeys")} there`);
    if (!systems || maxJobs === null || speedFactor === null || !supportedFeatures || !mandatoryFeatures) return undefined;
    return {
        uri: f[0], host: g.host, systems,
        ...(maxJobs !== undefined ? { maxJobs } : {}), ...(speedFactor !== undefined ? { speedFactor } : {}),
        supportedFeatures, mandatoryFeatures,
    };
}

/**
 * The machines as a Nix `builders` value, one line per machine with all 8 fields: field 3 (the
 * SSH key file) is "-" here, and the build's script puts the path of its private key file
 * there (lib/commands/builders.ts); field 8 is the base64 of the pinned host key.
 */
export function machinesText(machines: readonly BuilderMachine[]): string {
    const or = (xs: readonly string[]) => (xs.length ? xs.join(",") : "-");
    return machines.map((m) => [
        m.uri, or(m.systems), "-", m.maxJobs ?? "-", m.speedFactor ?? "-", or(m.supportedFeatures), or(m.mandatoryFeatures),
        Buffer.from(m.hostKey).toString("base64"),
    ].join(" ")).join("\n");
}

/** The environment of a command run with builders (lib/commands/builders.ts WITH_BUILDERS); the key is secret. */
export function buildersEnvironment(b: NixBuilders): Record<string, pulumi.Input<string>> {
    return {
        LAYERSTACK_NIX_BUILDERS: machinesText(b.machines),
        LAYERSTACK_NIX_BUILDERS_SSH_KEY: pulumi.secret(b.sshKey),
        ...(b.useSubstitutes !== undefined ? { LAYERSTACK_NIX_BUILDERS_USE_SUBSTITUTES: String(b.useSubstitutes) } : {}),
    };
}
