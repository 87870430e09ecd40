#!/usr/bin/env node
// Supervisor + access-logging reverse proxy for the local OCI registry.
// Started by scripts/registry.sh; not meant to be run by hand.
//
// Why: distribution 2.8's own access log (log.accesslog) is Apache "combined"
// format, whose byte field is the RESPONSE size -- blob uploads (PATCH/PUT on
// /v2/<name>/blobs/uploads/...) always log 0 there. Tests need the uploaded
// byte counts, so this proxy logs request and response bytes itself.
//
// It spawns `docker-registry serve CONFIG` (listening on a unix socket), listens
// on 127.0.0.1:PORT, forwards every request unchanged (Host header included, so
// the registry's Location headers stay correct) and appends one line per
// request to the access log:
//
//   <iso-time> <method> <path> <status> <req_bytes> <resp_bytes> <ms>
//
//   e.g. 2026-11-21T05:33:28.123Z PATCH /v2/test/x/blobs/uploads/3f1c... 202 92 0 2
//
//   path     URL path without the query string (no spaces: it is URL-encoded), except
//            that a completed blob upload (PUT .../blobs/uploads/<id>) keeps ?digest=...
//   req_bytes  bytes of request body actually received (the uploaded bytes)
//   resp_bytes bytes of response body sent
//   status   "-" if the client went away before a response was sent
//
// If the registry exits, this process exits with its status; on SIGTERM/SIGINT
// it stops the registry and exits.
//
// usage: registry-proxy.mjs LISTEN_HOST LISTEN_PORT SOCKET CONFIG ACCESS_LOG [PIDFILE]
import http from "node:http";
import https from "node:https";
import fs from "node:fs";
import { spawn } from "node:child_process";

const [host, portStr, socketPath, configPath, logPath, pidFile] = process.argv.slice(2);
if (!logPath) {
  console.error("usage: registry-proxy.mjs HOST PORT SOCKET CONFIG ACCESS_LOG");
  process.exit(2);
}
const port = Number(portStr);
if (pidFile) fs.writeFileSync(pidFile, `${process.pid}\n`);

try { fs.unlinkSync(socketPath); } catch { /* not there */ }

const registry = spawn("docker-registry", ["serve", configPath], {
  stdio: ["ignore", "inherit", "inherit"],
});
let stopping = false;
registry.on("exit", (code, signal) => {
  if (!stopping) console.error(`registry-proxy: docker-registry exited (code=${code} signal=${signal})`);
  try { fs.unlinkSync(socketPath); } catch { /* ignore */ }
  process.exit(stopping ? (process.exitCode ?? 0) : (code ?? 1));
});
registry.on("error", (err) => {
  console.error(`registry-proxy: cannot start docker-registry: ${err.message}`);
  process.exit(1);
});
for (const sig of ["SIGTERM", "SIGINT", "SIGHUP"]) {
  process.on(sig, () => {
    stopping = true;
    server.close();
    registry.kill("SIGTERM");
    setTimeout(() => { registry.kill("SIGKILL"); process.exit(0); }, 5000).unref();
  });
}

const log = fs.createWriteStream(logPath, { flags: "a" });
// A gateway in trouble, for the tests: LAYERSTACK_REGISTRY_FAIL_UPLOADS=N answers the first N
// blob-upload PATCH requests with 502 Bad Gateway, as a reverse proxy does when its upstream
// fails, without forwarding them (the registry never sees them).
let failUploads = Number(process.env.LAYERSTACK_REGISTRY_FAIL_UPLOADS ?? "0");
// A new upstream connection per request (cheap on a unix socket): a reused keep-alive
// connection that the registry closes at the same moment fails the request (ECONNRESET), which
// a client would see as a 502 in the middle of an upload.
const agent = new http.Agent({ socketPath, keepAlive: false, maxSockets: 64 });

// With LAYERSTACK_REGISTRY_TLS_CERT/_KEY it serves HTTPS, and tells the registry so
// (X-Forwarded-Proto), whose upload Location URLs then say https.
const tls = process.env.LAYERSTACK_REGISTRY_TLS_CERT
  ? { cert: fs.readFileSync(process.env.LAYERSTACK_REGISTRY_TLS_CERT), key: fs.readFileSync(process.env.LAYERSTACK_REGISTRY_TLS_KEY) }
  : undefined;
const server = (tls ? (handler) => https.createServer(tls, handler) : http.createServer)((req, res) => {
  const started = Date.now();
  let inBytes = 0;
  let outBytes = 0;
  let status = "-";
  let logged = false;
  // The path without its query, except a completed upload keeps `?digest=...`: that is
  // how tests tell which blob an upload was.
  const [bare, query = ""] = (req.url || "/").split("?");
  const digest = /(?:^|&)digest=([^&]+)/.exec(query);
  const path = digest ? `${bare}?digest=${digest[1]}` : bare;
  const done = () => {
    if (logged) return;
    logged = true;
    log.write(`${new Date(started).toISOString()} ${req.method} ${path} ${status} ${inBytes} ${outBytes} ${Date.now() - started}\n`);
  };
  req.on("data", (c) => { inBytes += c.length; });
  if (failUploads > 0 && req.method === "PATCH" && /\/blobs\/uploads\//.test(bare)) {
    failUploads--;
    status = "502";
    req.resume();
    res.writeHead(502, { "content-type": "text/plain" });
    res.end("registry-proxy: 502 injected (LAYERSTACK_REGISTRY_FAIL_UPLOADS)\n");
    res.on("finish", done);
    return;
  }

  const upstream = http.request({
    agent,
    socketPath,
    method: req.method,
    path: req.url,
    headers: tls ? { ...req.headers, "x-forwarded-proto": "https" } : req.headers,
  }, (ures) => {
    status = String(ures.statusCode);
    res.writeHead(ures.statusCode, ures.statusMessage, ures.rawHeaders);
    ures.on("data", (c) => { outBytes += c.length; });
    ures.pipe(res);
  });
  upstream.on("error", (err) => {
    console.error(`registry-proxy: ${req.method} ${path}: upstream error after ${inBytes} request bytes: ${err.code ?? ""} ${err.message}`);
    if (!res.headersSent) {
      status = "502";
      res.writeHead(502, { "content-type": "text/plain" });
      res.end(`registry-proxy: upstream error: ${err.message}\n`);
    } else {
      res.destroy();
    }
    done();
  });
  req.pipe(upstream);
  res.on("finish", done);
  res.on("close", done);
});
server.keepAliveTimeout = 30000;
server.requestTimeout = 0; // large blob uploads can take a while
server.on("error", (err) => {
  console.error(`registry-proxy: cannot listen on ${host}:${port}: ${err.message}`);
  stopping = true;
  registry.kill("SIGTERM");
  process.exitCode = 98;
  setTimeout(() => process.exit(98), 2000).unref();
});

// Wait for the registry socket before accepting connections.
const waitStart = Date.now();
(function waitSocket() {
  if (fs.existsSync(socketPath)) {
    server.listen(port, host, () => console.error(`registry-proxy: listening on ${host}:${port}`));
  } else if (Date.now() - waitStart > 20000) {
    console.error("registry-proxy: docker-registry did not create its socket in 20s");
    stopping = true;
    registry.kill("SIGTERM");
    process.exit(1);
  } else {
    setTimeout(waitSocket, 50);
  }
})();
