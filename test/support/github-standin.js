// A stand-in for the few GitHub REST endpoints the GPU runner uses, on 127.0.0.1 (GitHub is
// not reachable here). Run as its own process (the e2e tests drive `pulumi` synchronously):
//   node github-standin.js   with STANDIN_PORT, STANDIN_LOG (JSONL of requests), STANDIN_TOKENS
//   (comma-separated sha256 of the tokens it accepts as `Authorization: Bearer`),
//   STANDIN_REPO (owner/name), STANDIN_VISIBILITY, STANDIN_RELEASES (a directory served under
//   /releases/download/), STANDIN_TOKEN_PREFIX (starts every registration token it mints, so a
//   test can look for them). Prints "listening" when ready.
// Endpoints, shaped like GitHub's (docs.github.com/en/rest/actions/self-hosted-runners, /rest/repos):
//   GET    /repos/{owner}/{repo}                                   visibility
//   POST   /repos/{owner}/{repo}/actions/runners/registration-token  {token, expires_at}
//   POST   /repos/{owner}/{repo}/actions/runners/generate-jitconfig  {runner, encoded_jit_config}; 409 if the name exists
//   GET    /repos/{owner}/{repo}/actions/runners?name=              {total_count, runners}
//   DELETE /repos/{owner}/{repo}/actions/runners/{id}               204
//   POST   /repos/{owner}/{repo}/actions/variables                  {name, value}: 201; 409 if the name exists (no upsert)
//   GET    /repos/{owner}/{repo}/actions/variables/{name}           {name, value}; 404
//   PATCH  /repos/{owner}/{repo}/actions/variables/{name}           204
//   DELETE /repos/{owner}/{repo}/actions/variables/{name}           204; 404
//   PUT    /repos/{owner}/{repo}/actions/secrets/{name}             {encrypted_value}: 201 created, 204 updated (an upsert)
//   DELETE /repos/{owner}/{repo}/actions/secrets/{name}             204; 404
//   (docs.github.com/en/rest/actions/variables, /rest/actions/secrets; names are case-insensitive,
//   stored upper case) and GET /_standin/actions: what the repository holds, secrets as sha256 prefixes.
//   GET    /repos/{owner}/{repo}/pulls?state=open&head={owner}:{branch}   the open pull requests of that head
//   POST   /repos/{owner}/{repo}/pulls                               {title, head, base, body}: 201 {number, html_url};
//                                                                     422 "A pull request already exists" for an open one of that head
//   PATCH  /repos/{owner}/{repo}/pulls/{number}                      {title, body}: 200
//   (docs.github.com/en/rest/pulls/pulls) and GET /_standin/pulls: every pull request, bodies included.
// and, for the stand-in runner on the host (what the real runner does against GitHub's own services):
//   POST   /_standin/register  (Authorization: RemoteAuth <registration token>) {name, labels, replace}
//   POST   /_standin/job-done  (Authorization: RemoteAuth <encoded JIT config>): the ephemeral runner took its job
//   POST   /_standin/visibility  body: public|private|internal
// The log never holds a token: only sha256 prefixes of what was minted or presented.
"use strict";
const http = require("http");
const fs = require("fs");
const path = require("path");
const crypto = require("crypto");

const env = process.env;
const sha = (s) => crypto.createHash("sha256").update(s).digest("hex");
const accepted = new Set((env.STANDIN_TOKENS || "").split(",").filter(Boolean));
const [owner, repo] = (env.STANDIN_REPO || "owner/megapak").split("/");
let visibility = env.STANDIN_VISIBILITY || "private";
const registrationTokens = new Map(); // sha -> expiry
const jitConfigs = new Map(); // sha -> runner id
const runners = new Map(); // id -> runner
const pulls = new Map(); // number -> pull request
let nextId = 40;
const variables = new Map(); // NAME -> value
const secrets = new Map(); // NAME -> sha prefix of the value

function log(entry) {
    fs.appendFileSync(env.STANDIN_LOG, JSON.stringify({ t: Date.now(), ...entry }) + "\n");
}

function send(res, status, body) {
    const text = body === undefined ? "" : JSON.stringify(body);
    res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(text) });
    res.end(text);
}

function bearer(req) {
    const m = /^(Bearer|token) (.+)$/.exec(req.headers.authorization || "");
    return m ? m[2].trim() : undefined;
}

function remoteAuth(req) {
    const m = /^RemoteAuth (.+)$/.exec(req.headers.authorization || "");
    return m ? m[1].trim() : undefined;
}

function readBody(req) {
    return new Promise((resolve) => {
        let d = "";
        req.on("data", (c) => (d += c));
        req.on("end", () => resolve(d));
    });
}

function randomToken(prefix, n) {
    const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    return prefix + Array.from(crypto.randomBytes(n), (b) => alphabet[b % 32]).join("");
}

const server = http.createServer(async (req, res) => {
    const url = new URL(req.url, "http://127.0.0.1");
    const body = await readBody(req);
    const entry = { method: req.method, path: url.pathname, query: url.search };
    const done = (status, json, extra = {}) => {
        log({ ...entry, status, ...extra });
        send(res, status, json);
    };
    try {
        if (req.method === "GET" && url.pathname.startsWith("/releases/download/")) {
            const file = path.join(env.STANDIN_RELEASES, url.pathname.slice("/releases/download/".length));
            if (!file.startsWith(env.STANDIN_RELEASES) || !fs.existsSync(file)) return done(404, { message: "Not Found" });
            const data = fs.readFileSync(file);
            log({ ...entry, status: 200, bytes: data.length });
            res.writeHead(200, { "content-type": "application/octet-stream", "content-length": data.length });
            return res.end(data);
        }
        if (req.method === "POST" && url.pathname === "/_standin/visibility") {
            visibility = body.trim();
            return done(200, { visibility });
        }
        if (req.method === "POST" && url.pathname === "/_standin/register") {
            const t = remoteAuth(req);
            const exp = t && registrationTokens.get(sha(t));
            if (!exp || exp < Date.now()) return done(401, { message: "invalid registration token" }, { auth: t ? "unknown-registration-token" : "none" });
            const r = JSON.parse(body);
            const same = [...runners.values()].find((x) => x.name === r.name);
            if (same && !r.replace) return done(409, { message: `A runner exists with the same name ${r.name}.` });
            if (same) runners.delete(same.id);
            const runner = { id: nextId++, name: r.name, os: "Linux", status: "online", busy: false, ephemeral: false, labels: r.labels.map((name) => ({ name })) };
            runners.set(runner.id, runner);
            return done(200, { id: runner.id }, { auth: `registration-token:${sha(t).slice(0, 16)}`, runner: r.name, labels: r.labels, replaced: Boolean(same) });
        }
        if (req.method === "POST" && url.pathname === "/_standin/job-done") {
            const c = remoteAuth(req);
            const id = c && jitConfigs.get(sha(c));
            if (id === undefined) return done(401, { message: "unknown JIT configuration" });
            jitConfigs.delete(sha(c));
            runners.delete(id);
            return done(200, { id }, { jit: sha(c).slice(0, 16) });
        }
        if (req.method === "GET" && url.pathname === "/_standin/pulls") return done(200, [...pulls.values()]);
        const p = /^\/repos\/([^/]+)\/([^/]+)\/pulls(?:\/(\d+))?$/.exec(url.pathname);
        if (p) {
            if (p[1] !== owner || p[2] !== repo) return done(404, { message: "Not Found" });
            const t = bearer(req);
            if (!t || !accepted.has(sha(t))) return done(401, { message: "Bad credentials" }, { auth: t ? "bad" : "none" });
            entry.auth = sha(t).slice(0, 16);
            if (!p[3] && req.method === "GET") {
                const head = url.searchParams.get("head"), state = url.searchParams.get("state") || "open";
                return done(200, [...pulls.values()].filter((x) => (state === "all" || x.state === state) && (!head || `${owner}:${x.head.ref}` === head)));
            }
            if (!p[3] && req.method === "POST") {
                const b = JSON.parse(body || "{}");
                if (typeof b.title !== "string" || typeof b.head !== "string" || typeof b.base !== "string") return done(422, { message: "Validation Failed" });
                if ([...pulls.values()].some((x) => x.state === "open" && x.head.ref === b.head)) return done(422, { message: `Validation Failed: A pull request already exists for ${owner}:${b.head}.` });
                const number = pulls.size + 1;
                const pr = { number, state: "open", title: b.title, body: b.body ?? "", head: { ref: b.head }, base: { ref: b.base }, html_url: `http://github.invalid/${owner}/${repo}/pull/${number}` };
                pulls.set(number, pr);
                return done(201, pr);
            }
            if (p[3] && req.method === "PATCH") {
                const pr = pulls.get(Number(p[3]));
                if (!pr) return done(404, { message: "Not Found" });
                const b = JSON.parse(body || "{}");
                if (typeof b.title === "string") pr.title = b.title;
                if (typeof b.body === "string") pr.body = b.body;
                return done(200, pr);
            }
            return done(404, { message: "Not Found" });
        }
        if (req.method === "GET" && url.pathname === "/_standin/actions") {
            return done(200, { variables: Object.fromEntries(variables), secrets: Object.fromEntries(secrets) });
        }
        const a = /^\/repos\/([^/]+)\/([^/]+)\/actions\/(variables|secrets)(?:\/([A-Za-z0-9_]+))?$/.exec(url.pathname);
        if (a) {
            if (a[1] !== owner || a[2] !== repo) return done(404, { message: "Not Found" });
            const t = bearer(req);
            if (!t || !accepted.has(sha(t))) return done(401, { message: "Bad credentials" }, { auth: t ? "bad" : "none" });
            entry.auth = sha(t).slice(0, 16);
            const name = a[4] && a[4].toUpperCase();
            if (a[3] === "variables") {
                if (!name && req.method === "POST") {
                    const v = JSON.parse(body);
                    const n = String(v.name).toUpperCase();
                    if (variables.has(n)) return done(409, { message: "Already exists - Variable already exists" }, { variable: n });
                    variables.set(n, String(v.value));
                    return done(201, {}, { variable: n });
                }
                if (name && req.method === "GET") return variables.has(name) ? done(200, { name, value: variables.get(name) }, { variable: name }) : done(404, { message: "Not Found" }, { variable: name });
                if (name && req.method === "PATCH") {
                    if (!variables.has(name)) return done(404, { message: "Not Found" }, { variable: name });
                    variables.set(name, String(JSON.parse(body).value));
                    return done(204, undefined, { variable: name });
                }
                if (name && req.method === "DELETE") return variables.delete(name) ? done(204, undefined, { variable: name }) : done(404, { message: "Not Found" }, { variable: name });
            } else if (name) {
                if (req.method === "PUT") {
                    const existed = secrets.has(name);
                    secrets.set(name, sha(String(JSON.parse(body).encrypted_value)).slice(0, 16));
                    return done(existed ? 204 : 201, undefined, { secret: name });
                }
                if (req.method === "DELETE") return secrets.delete(name) ? done(204, undefined, { secret: name }) : done(404, { message: "Not Found" }, { secret: name });
            }
            return done(404, { message: "Not Found" });
        }
        const m = /^\/repos\/([^/]+)\/([^/]+)(\/actions\/runners(?:\/(registration-token|generate-jitconfig|\d+))?)?$/.exec(url.pathname);
        if (!m || m[1] !== owner || m[2] !== repo) return done(404, { message: "Not Found" });
        const t = bearer(req);
        if (!t || !accepted.has(sha(t))) return done(401, { message: "Bad credentials" }, { auth: t ? "bad" : "none" });
        entry.auth = sha(t).slice(0, 16);
        if (!m[3] && req.method === "GET") {
            return done(200, { full_name: `${owner}/${repo}`, private: visibility !== "public", visibility });
        }
        if (m[4] === "registration-token" && req.method === "POST") {
            const token = randomToken(env.STANDIN_TOKEN_PREFIX || "AREG", 25);
            registrationTokens.set(sha(token), Date.now() + 3600_000);
            return done(201, { token, expires_at: new Date(Date.now() + 3600_000).toISOString() }, { minted: sha(token).slice(0, 16) });
        }
        if (m[4] === "generate-jitconfig" && req.method === "POST") {
            let r;
            try { r = JSON.parse(body); } catch { return done(422, { message: "Problems parsing JSON" }); }
            if (typeof r.name !== "string" || typeof r.runner_group_id !== "number" || !Array.isArray(r.labels) || r.labels.length === 0) {
                return done(422, { message: "Invalid request." }, { body: r });
            }
            if ([...runners.values()].some((x) => x.name === r.name)) return done(409, { message: "Already exists - A runner with the same name already exists." }, { runner: r.name });
            const runner = { id: nextId++, name: r.name, os: "Linux", status: "offline", busy: false, ephemeral: true, runner_group_id: r.runner_group_id, labels: r.labels.map((name) => ({ name })) };
            runners.set(runner.id, runner);
            const files = {
                ".runner": Buffer.from(JSON.stringify({ agentId: runner.id, agentName: r.name, ephemeral: true, workFolder: r.work_folder })).toString("base64"),
                ".credentials": Buffer.from(JSON.stringify({ scheme: "OAuth", data: { clientId: randomToken("c", 8) } })).toString("base64"),
            };
            const encoded = Buffer.from(JSON.stringify(files)).toString("base64");
            jitConfigs.set(sha(encoded), runner.id);
            return done(201, { runner, encoded_jit_config: encoded }, { runner: r.name, labels: r.labels, work_folder: r.work_folder, jit: sha(encoded).slice(0, 16) });
        }
        if (m[3] === "/actions/runners" && req.method === "GET") {
            const name = url.searchParams.get("name");
            const list = [...runners.values()].filter((x) => !name || x.name === name);
            return done(200, { total_count: list.length, runners: list });
        }
        if (m[4] && /^\d+$/.test(m[4]) && req.method === "DELETE") {
            const id = Number(m[4]);
            const runner = runners.get(id);
            if (!runner) return done(404, { message: "Not Found" });
            runners.delete(id);
            return done(204, undefined, { runner: runner.name });
        }
        return done(404, { message: "Not Found" });
    } catch (e) {
        return done(500, { message: String(e && e.message) });
    }
});

server.listen(Number(env.STANDIN_PORT), "127.0.0.1", () => console.log("listening"));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
