// The builder keys, through validateConfig (where the stack reads them), and the machines as
// the Nix builders value they become (lib/builders.ts machinesText).
import * as path from "path";
import { RawConfig, validateConfig } from ".";
import { LayerstackError } from "../lib/errors";
import { machinesText } from "../lib/builders";

const projectDir = path.resolve(__dirname, "..");
const ctx = { stack: "dev", projectDir };
const HK1 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl";
const HK2 = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB2c0pMvN3Vs1m5sbx1J4Z2N8HqRr3d3Zk3Q0wq9s7Ft";
const ONE = { "builder1.example.com": HK1 };
const base: RawConfig = { flake: "path:./fixtures/megapak", registry: "127.0.0.1:5000", repository: "layerstack/megapak", hasRegistryPassword: false };
const two: RawConfig = {
    ...base,
    nixBuilders: "ssh-ng://nix@builder1.example.com x86_64-linux - 8 1 big-parallel,kvm\nssh-ng://nix@builder2.example.com?compress=true x86_64-linux,i686-linux - 4 2",
    nixBuildersHostKeys: { "builder1.example.com": HK1, "builder2.example.com": `builder2.example.com ${HK2} root@builder2` },
    hasNixBuildersSshKey: true,
};

function errorOf(raw: Partial<RawConfig>): string {
    try {
        validateConfig({ ...two, ...raw } as RawConfig, ctx);
    } catch (e) {
        expect(e).toBeInstanceOf(LayerstackError);
        return (e as Error).message;
    }
    throw new Error("expected a config error");
}

describe("layerstack:nixBuilders", () => {
    test("two machines: every field kept, host keys pinned per host", () => {
        const s = validateConfig(two, ctx);
        expect(s.builders).toEqual({
            machines: [
                { uri: "ssh-ng://nix@builder1.example.com", host: "builder1.example.com", systems: ["x86_64-linux"], maxJobs: 8, speedFactor: 1, supportedFeatures: ["big-parallel", "kvm"], mandatoryFeatures: [], hostKey: HK1 },
                { uri: "ssh-ng://nix@builder2.example.com?compress=true", host: "builder2.example.com", systems: ["x86_64-linux", "i686-linux"], maxJobs: 4, speedFactor: 2, supportedFeatures: [], mandatoryFeatures: [], hostKey: HK2 },
            ],
        });
        // As Nix's builders value: 8 fields each, the key file left to the script, the host key in base64 (machines.cc).
        const b64 = (k: string) => Buffer.from(k).toString("base64");
        expect(machinesText(s.builders!.machines)).toBe([
            `ssh-ng://nix@builder1.example.com x86_64-linux - 8 1 big-parallel,kvm - ${b64(HK1)}`,
            `ssh-ng://nix@builder2.example.com?compress=true x86_64-linux,i686-linux - 4 2 - - ${b64(HK2)}`,
        ].join("\n"));
    });

    test("';'-separated, a list, comments and unset fields read as Nix reads them", () => {
        const one = { nixBuildersHostKeys: { "b.example.com": HK1 } };
        const a = validateConfig({ ...two, ...one, nixBuilders: "ssh://b.example.com # the only one ;" }, ctx).builders!;
        const b = validateConfig({ ...two, ...one, nixBuilders: JSON.stringify(["ssh://b.example.com - - - - - - -"]), nixBuildersUseSubstitutes: "true" }, ctx).builders!;
        expect(a).toEqual({ machines: [{ uri: "ssh://b.example.com", host: "b.example.com", systems: [], supportedFeatures: [], mandatoryFeatures: [], hostKey: HK1 }] });
        expect(b).toEqual({ ...a, useSubstitutes: true });
        expect(machinesText(a.machines)).toBe(`ssh://b.example.com - - - - - - ${Buffer.from(HK1).toString("base64")}`);
    });

    test("a stack without builders has none", () => {
        expect(validateConfig(base, ctx).builders).toBeUndefined();
    });

    test.each<[string, Partial<RawConfig>, string]>([
        ["no SSH key", { hasNixBuildersSshKey: false },
            "layerstack:nixBuildersSshKey is required when layerstack:nixBuilders is set: the private key the machines accept (set it with: pulumi config set --secret layerstack:nixBuildersSshKey < key-file)"],
        ["no host keys", { nixBuildersHostKeys: undefined },
            'layerstack:nixBuildersHostKeys is required when layerstack:nixBuilders is set: {"<host>": "<its public key as ssh-keyscan -t ed25519 <host> prints it>"}, one per machine (SSH refuses any other host key)'],
        ["a host without its key", { nixBuildersHostKeys: { "builder1.example.com": HK1 } },
            'layerstack:nixBuildersHostKeys has no key for "builder2.example.com" (machine 2): add the host\'s public key as `ssh-keyscan -t ed25519 builder2.example.com` prints it, so that no other key is accepted'],
        ["a key for no machine", { nixBuildersHostKeys: { "builder1.example.com": HK1, "builder2.example.com": HK2, "builder3.example.com": HK2 } },
            'layerstack:nixBuildersHostKeys: "builder3.example.com" is not the host of any machine in layerstack:nixBuilders'],
        ["a host key that is not one", { nixBuildersHostKeys: { "builder1.example.com": "AAAA", "builder2.example.com": HK2 } },
            'layerstack:nixBuildersHostKeys.builder1.example.com: "AAAA" is not an SSH public key ("ssh-ed25519 AAAA...", as ssh-keyscan prints it)'],
        ["host keys not an object", { nixBuildersHostKeys: [HK1] }, 'layerstack:nixBuildersHostKeys: must be an object {"<host>": "ssh-ed25519 AAAA..."}'],
        ["not ssh", { nixBuilders: "https://builder1.example.com", nixBuildersHostKeys: ONE },
            'layerstack:nixBuilders: machine 1 ("https://builder1.example.com"): "https://builder1.example.com" is not an ssh-ng:// or ssh:// store URI (e.g. "ssh-ng://nix@builder1.example.com")'],
        ["a port", { nixBuilders: "ssh-ng://nix@builder1.example.com:2222", nixBuildersHostKeys: ONE },
            'layerstack:nixBuilders: machine 1 ("ssh-ng://nix@builder1.example.com:2222"): Nix takes no port in a builder\'s URI (it hands "user@host:port" to ssh as a host name): use port 22, or a Host entry with Port and HostKeyAlias in the ssh config of the user running Nix'],
        ["a key file of its own", { nixBuilders: "ssh-ng://nix@builder1.example.com x86_64-linux /root/.ssh/id_ed25519", nixBuildersHostKeys: ONE },
            'layerstack:nixBuilders: machine 1 ("ssh-ng://nix@builder1.example.com"): field 3 (the SSH key) must be "-": layerstack writes layerstack:nixBuildersSshKey to a private file and puts its path there'],
        ["a host key of its own", { nixBuilders: `ssh-ng://nix@builder1.example.com - - - - - - ${Buffer.from(HK1).toString("base64")}`, nixBuildersHostKeys: ONE },
            'layerstack:nixBuilders: machine 1 ("ssh-ng://nix@builder1.example.com"): field 8 (the host key) must be "-": layerstack puts the key from layerstack:nixBuildersHostKeys there'],
        ["ssh-key in the URI", { nixBuilders: "ssh-ng://nix@builder1.example.com?ssh-key=/root/k", nixBuildersHostKeys: ONE },
            'layerstack:nixBuilders: machine 1 ("ssh-ng://nix@builder1.example.com?ssh-key=/root/k"): the URI may not set ssh-key: layerstack sets the key (layerstack:nixBuildersSshKey) and the host key (layerstack:nixBuildersHostKeys)'],
        ["a machines file", { nixBuilders: "@/etc/nix/machines", nixBuildersHostKeys: ONE },
            'layerstack:nixBuilders: machine 1 ("@/etc/nix/machines"): a machines file (@file) cannot be used: layerstack fills in each machine\'s SSH key and host key, so list the machines themselves'],
        ["max jobs not a number", { nixBuilders: "ssh-ng://nix@builder1.example.com x86_64-linux - many", nixBuildersHostKeys: { "builder1.example.com": HK1 } },
            'layerstack:nixBuilders: machine 1 ("ssh-ng://nix@builder1.example.com"): field 4 (max jobs) "many" must be a whole number'],
        ["a bad system", { nixBuilders: "ssh-ng://nix@builder1.example.com x86_64 - 2", nixBuildersHostKeys: { "builder1.example.com": HK1 } },
            'layerstack:nixBuilders: machine 1 ("ssh-ng://nix@builder1.example.com"): field 2 "x86_64" is not a comma-separated list of Nix systems (e.g. x86_64-linux)'],
        ["nine fields", { nixBuilders: "ssh-ng://nix@builder1.example.com - - - - - - - extra", nixBuildersHostKeys: { "builder1.example.com": HK1 } },
            'layerstack:nixBuilders: machine 1 ("ssh-ng://nix@builder1.example.com"): has 9 fields; a machine line has at most 8'],
        ["the same machine twice", { nixBuilders: "ssh-ng://nix@builder1.example.com;ssh-ng://nix@builder1.example.com", nixBuildersHostKeys: { "builder1.example.com": HK1 } },
            "layerstack:nixBuilders: machine 2: ssh-ng://nix@builder1.example.com is listed twice"],
        ["only comments", { nixBuilders: "# none yet", nixBuildersHostKeys: {} },
            'layerstack:nixBuilders: no machine (a line is "ssh-ng://user@host [systems] - [max jobs] [speed factor] [features] [mandatory features]")'],
        ["not text", { nixBuilders: JSON.stringify({ uri: "ssh-ng://x" }) },
            "layerstack:nixBuilders: must be a Nix builders value (machine lines separated by newlines or ';') or a list of machine lines"],
        ["use-substitutes not a boolean", { nixBuildersUseSubstitutes: "yes" }, 'layerstack:nixBuildersUseSubstitutes: "yes" must be true or false'],
        ["a key without builders", { nixBuilders: undefined, nixBuildersHostKeys: undefined }, "layerstack:nixBuildersSshKey is set but layerstack:nixBuilders is not"],
        ["host keys without builders", { nixBuilders: undefined, hasNixBuildersSshKey: false }, "layerstack:nixBuildersHostKeys is set but layerstack:nixBuilders is not"],
    ])("%s", (_name, raw, expected) => {
        expect(errorOf(raw)).toBe(expected);
    });

    test("every problem at once, each naming its key", () => {
        expect(errorOf({ nixBuilders: "ssh-ng://a:1", nixBuildersUseSubstitutes: "1", hasNixBuildersSshKey: false })).toBe([
            "3 problems:",
            '  - layerstack:nixBuilders: machine 1 ("ssh-ng://a:1"): Nix takes no port in a builder\'s URI (it hands "user@host:port" to ssh as a host name): use port 22, or a Host entry with Port and HostKeyAlias in the ssh config of the user running Nix',
            "  - layerstack:nixBuildersSshKey is required when layerstack:nixBuilders is set: the private key the machines accept (set it with: pulumi config set --secret layerstack:nixBuildersSshKey < key-file)",
            '  - layerstack:nixBuildersUseSubstitutes: "1" must be true or false',
        ].join("\n"));
    });
});
