#!/usr/bin/env node
// A Nix binary cache over HTTP for the bench's fresh-machine row (bench/run.ts, group "fresh"):
// a directory served as Nix's HttpBinaryCacheStore reads and writes it, with an access log, so
// that the bench can count the bytes a `pulumi up` on an empty store fetches from the cache.
//
// What Nix asks of it (NixOS/nix src/libstore/http-binary-cache-store.cc): GET of a file
// (nix-cache-info, <hash>.narinfo, nar/<file>), HEAD for fileExists, PUT for upsertFile (a
// `nix copy --to http://...` uploads each NAR and then its .narinfo). A missing file is a 404,
// which Nix reads as "not in this cache".
//
// Each request appends one line to the log:  <method> <path> <status> <response bytes>
//
// usage: http-cache.mjs DIR PORT ACCESS_LOG   (listens on 127.0.0.1; ends on SIGTERM)
import http from "node:http";
import fs from "node:fs";
import path from "node:path";

const [dir, portStr, logPath] = process.argv.slice(2);
if (!logPath) {
    console.error("usage: http-cache.mjs DIR PORT ACCESS_LOG");
    process.exit(2);
}
fs.mkdirSync(path.join(dir, "nar"), { recursive: true });
const cacheInfo = path.join(dir, "nix-cache-info");
if (!fs.existsSync(cacheInfo)) fs.writeFileSync(cacheInfo, "StoreDir: /nix/store\nWantMassQuery: 1\nPriority: 40\n");

const log = (method, p, status, bytes) => fs.appendFileSync(logPath, `${method} ${p} ${status} ${bytes}\n`);

let uploads = 0;
const server = http.createServer((req, res) => {
    const p = decodeURIComponent(new URL(req.url, "http://cache").pathname);
    const file = path.join(dir, path.normalize(p).replace(/^(\.\.[/\\])+/, ""));
    if (!file.startsWith(path.resolve(dir) + path.sep)) { res.writeHead(400).end(); log(req.method, p, 400, 0); return; }
    if (req.method === "PUT") {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        // A temporary name of its own per request: two layers' `nix copy` may upload the same
        // path at once (a shared closure), and the last complete upload wins, as on S3.
        const tmp = `${file}.tmp.${process.pid}.${++uploads}`;
        const out = fs.createWriteStream(tmp);
        req.pipe(out);
        out.on("finish", () => {
            try { fs.renameSync(tmp, file); } catch { res.writeHead(500).end(); log("PUT", p, 500, 0); return; }
            res.writeHead(201).end(); log("PUT", p, 201, 0);
        });
        out.on("error", () => { res.writeHead(500).end(); log("PUT", p, 500, 0); });
        return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") { res.writeHead(405).end(); log(req.method, p, 405, 0); return; }
    fs.stat(file, (err, st) => {
        if (err || !st.isFile()) { res.writeHead(404).end(); log(req.method, p, 404, 0); return; }
        res.writeHead(200, { "Content-Length": st.size });
        if (req.method === "HEAD") { res.end(); log("HEAD", p, 200, 0); return; }
        fs.createReadStream(file).pipe(res).on("finish", () => log("GET", p, 200, st.size));
    });
});
server.listen(Number(portStr), "127.0.0.1");
for (const sig of ["SIGTERM", "SIGINT"]) process.on(sig, () => server.close(() => process.exit(0)));
