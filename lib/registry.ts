/**
 * A small client for the OCI distribution API, for what the stack reads back and retires:
 * manifest HEADs, tag lists, manifest deletes, and on ghcr.io GitHub's packages API.
 *
 * It needs nothing but Node's http/https/fs/tls (and lib/reference.ts), because dynamic
 * providers carry it into the state: RegistryImage as its JavaScript (lib/registryCheck.ts),
 * ImageRetention through Pulumi's closure serializer.
 *
 * - Loopback registries (lib/reference.ts isLoopbackRegistry) are reached over plain HTTP,
 *   others over HTTPS, trusting the system CAs plus `*.crt` in
 *   /etc/containers/certs.d/<host[:port]>/ and /etc/docker/certs.d/<host[:port]>/, the
 *   directories skopeo and Docker read (containers-certs.d(5)).
 * - Authentication follows the registry's challenge (distribution's docs/spec/auth/token.md):
 *   a 401 with `WWW-Authenticate: Basic` is answered with the stack's username and password;
 *   `Bearer realm=...,service=...` with a token fetched from the realm for the scope
 *   `repository:<name>:<actions>`, authenticated with the same credentials. The password
 *   is never logged and never part of an error message.
 * - Every request has a time limit; an unreachable registry fails with a message that names
 *   it (and never counts as "image present").
 */
import { isLoopbackRegistry } from "./reference";
import type { Output } from "@pulumi/pulumi";

/**
 * Registry credentials as the stack holds them: the password stays a secret Output all the
 * way to the command or dynamic resource that needs it.
 */
export interface RegistryAuth {
    /** The registry user. */
    readonly username: string;
    /** Must be a secret Output. */
    readonly password: Output<string>;
}

/** Where a registry is and how to log in. The password is a secret: never print it. */
export interface RegistryTarget {
    /** `host[:port]`. */
    readonly registry: string;
    readonly username?: string;
    readonly password?: string;
    /** Per-request time limit. @default 20000 */
    readonly timeoutMs?: number;
}

/**
 * A registry that could not be asked, or answered with an error: a plain Error with the HTTP
 * status. (Not a subclass: Pulumi's closure serialization turns classes into functions, and a
 * serialized `class extends Error` loses its message on the way to the engine.)
 */
export function registryError(message: string, status?: number): Error & { status?: number } {
    // The dynamic provider prints a failing call's error as `${e}: ${e.stack}` on its stderr,
    // which the CLI shows under the stack: one line with the message, not a stack trace.
    return Object.assign(new Error(message), { status, stack: message, toString: () => "layerstack registry check" });
}

/** The media types a manifest HEAD accepts (without them distribution 2.8 answers 404 for OCI manifests). */
export const MANIFEST_ACCEPT = [
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

interface HttpAnswer {
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
}

/** Loopback registries speak plain HTTP, as skopeo is told for them (LAYERSTACK_TLS_VERIFY); others HTTPS. */
export function registryBaseUrl(registry: string): string {
    return `${isLoopbackRegistry(registry) ? "http" : "https"}://${registry}`;
}

/** Extra CA certificates for a registry host, where skopeo and Docker look for them. */
function extraCAs(registry: string): string[] {
    const fs = require("fs") as typeof import("fs");
    const out: string[] = [];
    for (const root of ["/etc/containers/certs.d", "/etc/docker/certs.d"]) {
        const dir = `${root}/${registry}`;
        let names: string[] = [];
        try { names = fs.readdirSync(dir); } catch { continue; }
        for (const n of names) if (n.endsWith(".crt")) out.push(fs.readFileSync(`${dir}/${n}`, "utf8"));
    }
    return out;
}

/** One HTTP request with a time limit; network errors name `what` (registryError). */
function httpRequest(method: string, url: string, headers: Record<string, string>, what: string, timeoutMs: number, ca?: string[]): Promise<HttpAnswer> {
    const u = new URL(url);
    const mod = (u.protocol === "https:" ? require("https") : require("http")) as typeof import("https");
    const tls = require("tls") as typeof import("tls");
    return new Promise((resolve, reject) => {
        const req = mod.request(u, {
            method, headers: { "User-Agent": "layerstack", ...headers }, timeout: timeoutMs,
            ...(u.protocol === "https:" && ca && ca.length ? { ca: [...tls.rootCertificates, ...ca] } : {}),
        }, (res) => {
            let body = "";
            res.setEncoding("utf8");
            res.on("data", (d: string) => { if (body.length < 1 << 20) body += d; });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
            res.on("error", (e: Error) => reject(registryError(`${what}: ${e.message}`)));
        });
        req.on("timeout", () => req.destroy(new Error(`no answer within ${timeoutMs / 1000} s`)));
        req.on("error", (e: NodeJS.ErrnoException) => reject(registryError(`${what} cannot be reached: ${e.code ?? ""}${e.code ? " " : ""}${e.message}`)));
        req.end();
    });
}

/** `key="value"` pairs of a WWW-Authenticate challenge. */
export function parseChallenge(header: string): { scheme: string; params: Record<string, string> } {
    const m = /^\s*(\w+)\s*(.*)$/.exec(header) ?? ["", "", ""];
    const params: Record<string, string> = {};
    for (const p of m[2].matchAll(/(\w+)="([^"]*)"/g)) params[p[1].toLowerCase()] = p[2];
    return { scheme: m[1].toLowerCase(), params };
}

/**
 * A session with one registry: answers the auth challenge once per repository and
 * action set, then reuses the token.
 */
export class RegistryClient {
    private readonly base: string;
    private readonly timeoutMs: number;
    private readonly ca: string[];
    private readonly auth = new Map<string, string>();

    constructor(private readonly target: RegistryTarget) {
        this.base = registryBaseUrl(target.registry);
        this.timeoutMs = target.timeoutMs ?? 20000;
        this.ca = this.base.startsWith("https:") ? extraCAs(target.registry) : [];
    }

    private basic(): string | undefined {
        const t = this.target;
        return t.username !== undefined && t.password !== undefined ? "Basic " + Buffer.from(`${t.username}:${t.password}`).toString("base64") : undefined;
    }

    /** A request to `/v2/...`, answering a 401 challenge once. */
    async request(method: string, path: string, repo: string, actions: string, headers: Record<string, string> = {}): Promise<HttpAnswer> {
        const what = `registry ${this.target.registry}`;
        const key = `${repo}:${actions}`;
        const send = (authz?: string) => httpRequest(method, this.base + path, { ...headers, ...(authz ? { Authorization: authz } : {}) }, what, this.timeoutMs, this.ca);
        let res = await send(this.auth.get(key));
        if (res.status !== 401) return res;
        const header = res.headers["www-authenticate"];
        const challenge = parseChallenge(Array.isArray(header) ? header[0] : header ?? "");
        let authz: string | undefined;
        if (challenge.scheme === "basic") {
            authz = this.basic();
            if (!authz) throw registryError(`${what} asks for a login, and the stack has no layerstack:registryUsername/registryPassword`, 401);
        } else if (challenge.scheme === "bearer" && challenge.params.realm) {
            const q = new URLSearchParams({ scope: `repository:${repo}:${actions}` });
            if (challenge.params.service) q.set("service", challenge.params.service);
            const basic = this.basic();
            const tok = await httpRequest("GET", `${challenge.params.realm}?${q}`, basic ? { Authorization: basic } : {}, `${what} (token service ${new URL(challenge.params.realm).host})`, this.timeoutMs, this.ca);
            if (tok.status !== 200) throw registryError(`${what}: its token service refused the stack's credentials for ${repo} (HTTP ${tok.status})`, tok.status);
            let token: string | undefined;
            try { const j = JSON.parse(tok.body) as { token?: string; access_token?: string }; token = j.token ?? j.access_token; } catch { /* below */ }
            if (!token) throw registryError(`${what}: its token service answered no token`, tok.status);
            authz = `Bearer ${token}`;
        } else {
            throw registryError(`${what} answered 401 with an authentication scheme layerstack does not speak (${challenge.scheme || "none"})`, 401);
        }
        this.auth.set(key, authz);
        res = await send(authz);
        if (res.status === 401) throw registryError(`${what} refused the stack's credentials for ${repo} (HTTP 401)`, 401);
        return res;
    }

    /** The digest `<repo>:<reference>` resolves to, or null when the registry has no such manifest. */
    async headManifest(repo: string, reference: string): Promise<string | null> {
        const res = await this.request("HEAD", `/v2/${repo}/manifests/${reference}`, repo, "pull", { Accept: MANIFEST_ACCEPT });
        if (res.status === 404) return null;
        if (res.status !== 200) throw registryError(`registry ${this.target.registry}: HEAD ${repo}:${reference} answered HTTP ${res.status}`, res.status);
        const d = res.headers["docker-content-digest"];
        const digest = Array.isArray(d) ? d[0] : d;
        // Without the header (allowed by the spec), the reference itself is all we know.
        return digest ?? (reference.startsWith("sha256:") ? reference : "present");
    }

    /** Every tag of a repository (following `Link` pages); [] when the repository does not exist. */
    async listTags(repo: string): Promise<string[]> {
        const tags: string[] = [];
        let path: string | undefined = `/v2/${repo}/tags/list?n=1000`;
        while (path) {
            const res = await this.request("GET", path, repo, "pull");
            if (res.status === 404) return tags;
            if (res.status !== 200) throw registryError(`registry ${this.target.registry}: listing the tags of ${repo} answered HTTP ${res.status}`, res.status);
            tags.push(...((JSON.parse(res.body) as { tags?: string[] | null }).tags ?? []));
            const link = res.headers.link;
            const next = /<([^>]+)>;\s*rel="?next"?/.exec(Array.isArray(link) ? link[0] : link ?? "");
            path = next ? next[1] : undefined;
        }
        return tags;
    }

    /**
     * Deletes a manifest by digest (DELETE /v2/<name>/manifests/<digest>). The distribution
     * registry untags every tag pointing at it (registry/handlers/manifests.go DeleteManifest).
     * 404 counts as done.
     */
    async deleteManifest(repo: string, digest: string): Promise<void> {
        const res = await this.request("DELETE", `/v2/${repo}/manifests/${digest}`, repo, "delete");
        if (res.status === 202 || res.status === 200 || res.status === 404) return;
        if (res.status === 405) {
            throw registryError(`registry ${this.target.registry} does not allow deletes (DELETE ${repo}@${digest} answered 405; the distribution registry needs storage.delete.enabled: true)`, 405);
        }
        throw registryError(`registry ${this.target.registry}: DELETE ${repo}@${digest} answered HTTP ${res.status}`, res.status);
    }
}

/**
 * GitHub's packages API, for ghcr.io, which answers the distribution DELETE with
 * 405 UNSUPPORTED (containers/skopeo#1880). A container image `ghcr.io/<owner>/<path>` is
 * the package `<path>` of `<owner>` (a user or an organization), and each of its manifests
 * is a package version whose `name` is the digest and whose `metadata.container.tags` are
 * its tags. Endpoints (docs.github.com/rest/packages/packages):
 *   GET    /orgs/{org}/packages/container/{package_name}/versions           (or /users/{username}/...)
 *   DELETE /orgs/{org}/packages/container/{package_name}/versions/{package_version_id}  (or /users/{username}/...)
 * The token needs read:packages and delete:packages (a classic PAT).
 */
export class GithubPackages {
    constructor(private readonly apiUrl: string, private readonly token: string, private readonly timeoutMs = 20000) {}

    private async call(method: string, path: string): Promise<HttpAnswer> {
        return httpRequest(method, this.apiUrl.replace(/\/+$/, "") + path, {
            Accept: "application/vnd.github+json", Authorization: `Bearer ${this.token}`, "X-GitHub-Api-Version": "2022-11-28",
        }, `GitHub API ${new URL(this.apiUrl).host}`, this.timeoutMs);
    }

    /** `/orgs/<owner>` or `/users/<owner>`, whichever owns the package, with its versions. */
    async versions(owner: string, pkg: string): Promise<{ base: string; versions: { id: number; digest: string; tags: string[] }[] }> {
        const name = encodeURIComponent(pkg);
        for (const kind of ["orgs", "users"]) {
            const base = `/${kind}/${encodeURIComponent(owner)}/packages/container/${name}`;
            const all: { id: number; digest: string; tags: string[] }[] = [];
            let found = true;
            for (let page = 1; ; page++) {
                const res = await this.call("GET", `${base}/versions?per_page=100&page=${page}`);
                if (res.status === 404) { found = false; break; }
                if (res.status !== 200) throw registryError(`GitHub API: listing the versions of package ${pkg} of ${owner} answered HTTP ${res.status}`, res.status);
                const list = JSON.parse(res.body) as { id: number; name: string; metadata?: { container?: { tags?: string[] } } }[];
                for (const v of list) all.push({ id: v.id, digest: v.name, tags: v.metadata?.container?.tags ?? [] });
                if (list.length < 100) break;
            }
            if (found) return { base, versions: all };
        }
        return { base: "", versions: [] };
    }

    async deleteVersion(base: string, id: number, what: string): Promise<void> {
        const res = await this.call("DELETE", `${base}/versions/${id}`);
        if (res.status === 204 || res.status === 404) return;
        throw registryError(`GitHub API: deleting ${what} answered HTTP ${res.status} (the token needs read:packages and delete:packages)`, res.status);
    }
}
