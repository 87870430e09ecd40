// A private repository on a GitHub Enterprise host, as Nix's github fetcher reaches one
// (NixOS/nix 2.26.3 src/libfetchers/github.cc): GET https://<host>/api/v3/repos/<owner>/<repo>/commits/<ref>
// answers the commit ({"sha", "commit": {"tree": {"sha"}}}), and .../tarball/<rev> the tree as
// a .tar.gz with one top directory. Like GitHub for a private repository, both answer 404 to a
// request without `Authorization: token <token>` (github.cc accessHeaderFromToken). Its own
// process, so it answers while a test waits on `pulumi` synchronously.
//
// usage: node private-flake-host.js CONFIG.json   (port, cert, key, owner, repo, token sha256, tarball, sha, treeSha, log)
// It logs one JSON line per request to `log`: method, path, status, and whether a token came, never the token.
const crypto = require("crypto");
const fs = require("fs");
const https = require("https");

const c = JSON.parse(fs.readFileSync(process.argv[2], "utf8"));
const base = `/api/v3/repos/${c.owner}/${c.repo}`;
const server = https.createServer({ cert: fs.readFileSync(c.cert), key: fs.readFileSync(c.key) }, (req, res) => {
    const auth = req.headers.authorization ?? "";
    const m = /^token (.+)$/.exec(auth);
    const authorized = !!m && crypto.createHash("sha256").update(m[1]).digest("hex") === c.tokenSha256;
    const path = (req.url ?? "").split("?")[0];
    let status = 404, body = JSON.stringify({ message: "Not Found" }), type = "application/json";
    if (authorized && req.method === "GET" && path.startsWith(`${base}/commits/`)) {
        status = 200; body = JSON.stringify({ sha: c.sha, commit: { tree: { sha: c.treeSha } } });
    } else if (authorized && req.method === "GET" && path === `${base}/tarball/${c.sha}`) {
        status = 200; body = fs.readFileSync(c.tarball); type = "application/x-gzip";
    }
    fs.appendFileSync(c.log, JSON.stringify({ method: req.method, path, status, token: !!m, authorized }) + "\n");
    res.writeHead(status, { "content-type": type });
    res.end(body);
});
server.listen(c.port, "127.0.0.1", () => fs.writeFileSync(`${c.log}.ready`, ""));
process.on("SIGTERM", () => server.close(() => process.exit(0)));
