// The GPU host's stand-in tools for test/support/gpuHost.ts: the runner release's config.sh,
// run.sh and the svc.sh config.sh generates, plus sudo, systemctl and nvidia-smi on the SSH
// user's PATH. Each call is appended to $STANDIN_CALLS (baked into the wrappers) as one JSON
// line: the tool, its argv, its directory, the names of its environment variables, its PATH,
// and the sha256 (never the value) of ACTIONS_RUNNER_INPUT_TOKEN / _JITCONFIG.
// What each does, faithful to actions/runner where it matters:
//   config  registers with the stand-in API (the token from ACTIONS_RUNNER_INPUT_TOKEN, as
//           src/Runner.Listener/CommandSettings.cs reads it), writes .runner/.credentials,
//           .path (src/Misc/layoutroot/env.sh) and svc.sh (generated at configure time)
//   run     with ACTIONS_RUNNER_INPUT_JITCONFIG: writes the decoded files (Runner.cs), takes
//           "one job" (tells the stand-in API), deletes its local configuration, exits 0
//   svc     install (writes .service), start, stop, uninstall
//   installdependencies  the release's bin/installdependencies.sh: records, then "installs" libicu
//           (the host's stand-in ldconfig lists it from then on)
"use strict";
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

const [tool, ...args] = process.argv.slice(2);
const calls = process.env.STANDIN_CALLS_FILE;
const api = process.env.STANDIN_API;
const state = process.env.STANDIN_STATE;
const sha = (s) => crypto.createHash("sha256").update(s).digest("hex");

function record(extra = {}) {
    const env = process.env;
    const entry = {
        tool, argv: args, cwd: process.cwd(),
        env: Object.keys(env).filter((k) => !k.startsWith("STANDIN_")).sort(),
        path: env.PATH,
        ...(env.ACTIONS_RUNNER_INPUT_TOKEN ? { token: sha(env.ACTIONS_RUNNER_INPUT_TOKEN).slice(0, 16) } : {}),
        ...(env.ACTIONS_RUNNER_INPUT_JITCONFIG ? { jitconfig: sha(env.ACTIONS_RUNNER_INPUT_JITCONFIG).slice(0, 16) } : {}),
        ...extra,
    };
    fs.appendFileSync(calls, JSON.stringify(entry) + "\n");
}

function arg(name) {
    const i = args.indexOf(`--${name}`);
    return i >= 0 ? args[i + 1] : undefined;
}

async function post(p, auth, body) {
    const r = await fetch(`${api}${p}`, { method: "POST", headers: { authorization: `RemoteAuth ${auth}`, "content-type": "application/json" }, body: JSON.stringify(body) });
    if (!r.ok) throw new Error(`stand-in ${p}: HTTP ${r.status}`);
    return r.json();
}

async function main() {
    switch (tool) {
        case "config": {
            record();
            const token = process.env.ACTIONS_RUNNER_INPUT_TOKEN;
            if (!token) throw new Error("config.sh: no token (ACTIONS_RUNNER_INPUT_TOKEN)");
            const labels = ["self-hosted", "Linux", "X64", ...(arg("labels") || "").split(",").filter(Boolean)];
            const { id } = await post("/_standin/register", token, { name: arg("name"), labels, replace: args.includes("--replace") });
            fs.writeFileSync(".runner", JSON.stringify({ agentId: id, agentName: arg("name"), gitHubUrl: arg("url"), workFolder: arg("work") }));
            fs.writeFileSync(".credentials", JSON.stringify({ scheme: "OAuth" }));
            fs.writeFileSync(".path", process.env.PATH + "\n");
            fs.writeFileSync("svc.sh", fs.readFileSync(path.join(path.dirname(calls), "svc.sh.template")), { mode: 0o755 });
            console.log(`Runner successfully added (${arg("name")})`);
            return;
        }
        case "run": {
            const jit = process.env.ACTIONS_RUNNER_INPUT_JITCONFIG;
            record();
            if (!jit) return;
            const files = JSON.parse(Buffer.from(jit, "base64").toString("utf8"));
            for (const [name, content] of Object.entries(files)) fs.writeFileSync(name, Buffer.from(content, "base64"));
            await post("/_standin/job-done", jit, {});
            for (const name of Object.keys(files)) fs.rmSync(name, { force: true });
            console.log("Job completed; ephemeral runner exits");
            return;
        }
        case "svc": {
            record();
            const runner = JSON.parse(fs.readFileSync(".runner", "utf8"));
            const name = fs.existsSync(".service") ? fs.readFileSync(".service", "utf8").trim() : `actions.runner.owner-megapak.${runner.agentName}.service`;
            const active = path.join(state, "active", name);
            fs.mkdirSync(path.dirname(active), { recursive: true });
            if (args[0] === "install") fs.writeFileSync(".service", name + "\n");
            else if (args[0] === "start") fs.writeFileSync(active, "");
            else if (args[0] === "stop") fs.rmSync(active, { force: true });
            else if (args[0] === "uninstall") fs.rmSync(".service", { force: true });
            else throw new Error(`svc.sh: unknown command ${args[0]}`);
            return;
        }
        case "systemctl": {
            record();
            const quiet = args.filter((a) => !a.startsWith("-"));
            if (quiet[0] === "is-active") process.exit(fs.existsSync(path.join(state, "active", quiet[1])) ? 0 : 3);
            return;
        }
        case "sudo":
            record();
            return;
        case "installdependencies":
            record();
            fs.writeFileSync(path.join(state, "icu"), "");
            console.log("-----------------------------\n Finish Install Dependencies\n-----------------------------");
            return;
        default:
            throw new Error(`unknown stand-in ${tool}`);
    }
}

main().catch((e) => {
    console.error(String(e && e.message));
    process.exit(1);
});
