/**
 * The builder keys (`layerstack:nixBuilders`, `nixBuildersHostKeys`, `nixBuildersUseSubstitutes`,
 * `nixBuildersSshKey`), validated: each machine line field by field, as Nix 2.8 reads it
 * (lib/builders.ts says how, with the source it was read from), with one problem per mistake
 * naming the key and the machine. The key's value is never looked at, only whether it is set.
 */
import { BuilderMachine, NixBuilders } from "../lib/builders";
import { HOST_LABEL, NOT_A_HOST_KEY, hostKeyLine } from "../lib/hosts";
import { flag } from "./image";
import { RawConfig, key } from "./raw";

/** A host name (lib/hosts.ts HOST_LABEL, dot-separated) or an IPv4 address, any case. */
const HOST = new RegExp(`^${HOST_LABEL}(\\.${HOST_LABEL})*$`, "i");
const URI = /^(?<scheme>ssh|ssh-ng):\/\/(?:(?<user>[A-Za-z0-9._-]+)@)?(?<host>[^/?:@\s]+)(?<port>:[^/?\s]*)?(?<query>\?[^\s]*)?$/;
const SYSTEM = /^[a-z0-9_]+-[a-z0-9_]+$/;
const FEATURE = /^[A-Za-z0-9._+-]+$/;
/** Store URI parameters layerstack sets itself (Machine::openStore), so a line may not. */
const OWN_PARAMS = ["ssh-key", "base64-ssh-public-host-key"];

/**
 * Validates the builder keys. Pushes one problem per mistake (naming the key and the
 * machine) and returns the machines, or undefined when builders are not configured or wrong.
 */
export function validateBuilders(raw: RawConfig, problems: string[]): Omit<NixBuilders, "sshKey"> | undefined {
    const before = problems.length;
    if (raw.nixBuilders === undefined || raw.nixBuilders === "") {
        for (const k of ["nixBuildersHostKeys", "nixBuildersUseSubstitutes"] as const) {
            if (raw[k] !== undefined) problems.push(`${key(k)} is set but ${key("nixBuilders")} is not`);
        }
        if (raw.hasNixBuildersSshKey) problems.push(`${key("nixBuildersSshKey")} is set but ${key("nixBuilders")} is not`);
        return undefined;
    }
    // A YAML list (or object) arrives as its JSON text: the engine's config and `pulumi config
    // --json` both give an object's value so. A machine line never starts with '[' or '{'.
    let value: unknown = raw.nixBuilders;
    if (typeof value === "string" && /^\s*[[{]/.test(value)) {
        try { value = JSON.parse(value); } catch { value = undefined; }
    }
    let lines: string[];
    if (typeof value === "string") {
        lines = value.split(/[\n;]/);
    } else if (Array.isArray(value) && value.every((l) => typeof l === "string")) {
        lines = value as string[];
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
    // Unset leaves Nix's own `builders-use-substitutes` as it is.
    const useSubstitutes = raw.nixBuildersUseSubstitutes === undefined ? undefined : flag(raw, "nixBuildersUseSubstitutes", false, problems);
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
        const line = hostKeyLine(v);
        if (line === undefined) {
            ok = false;
            problems.push(`${k}.${host}: ${JSON.stringify(v)} ${NOT_A_HOST_KEY}`);
        } else out.set(host, line);
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
    if (g.port !== undefined) return bad(`Nix takes no port in a builder's URI (it hands "user@host:port" to ssh as a host name): use port 22, or a Host entry with Port and HostKeyAlias in the ssh config of the user running Nix`);
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

