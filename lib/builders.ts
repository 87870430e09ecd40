// Nix remote builders for the layers' builds (`layerstack:nixBuilders`, validated in
// settings/builders.ts): the stack passes a Nix `builders` value through to the builds' Nix,
// which dispatches each derivation to the machines itself (the build hook, `nix
// __build-remote`). layerstack schedules nothing.
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
