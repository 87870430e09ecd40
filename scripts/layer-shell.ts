// For scripts/layer-shell.sh: runs a command (default /bin/sh) inside a pushed image on this
// machine, exactly as a local smoke check runs (lib/commands/check.ts IMAGE_SHELL_SCRIPT), with
// the registry's TLS setting from the project's one rule (lib/commands/env.ts registryEnv).
//   ts-node scripts/layer-shell.ts <imageRef> [command...]
import { spawnSync } from "child_process";
import { IMAGE_SHELL_SCRIPT, registryEnv } from "../lib/commands";

const [ref, ...cmd] = process.argv.slice(2);
const registry = ref.slice(0, ref.indexOf("/"));
const env = { ...process.env, ...(registryEnv(registry) as Record<string, string>) };
const r = spawnSync("sh", ["-c", IMAGE_SHELL_SCRIPT, "layer-shell", ref, ...cmd], { stdio: "inherit", env });
process.exit(r.status ?? 1);
