// The few GitHub REST calls the program itself makes (the runner's scripts make the others).
import { LayerstackError } from "./errors";

/** GitHub's REST API version header every call sends. */
export const GITHUB_API_VERSION = "2022-11-28";

/**
 * The web URL a runner registers with (`config.sh --url`), from the REST API's URL:
 * https://api.github.com serves github.com; GitHub Enterprise Server serves its API under
 * `https://<host>/api/v3`.
 */
export function githubWebUrl(apiUrl: string, fullName: string): string {
    const base = apiUrl === "https://api.github.com" ? "https://github.com" : apiUrl.replace(/\/api\/v3$/, "");
    return `${base}/${fullName}`;
}

/**
 * A repository's visibility (`public`, `private` or `internal`), from
 * `GET /repos/{owner}/{repo}`. Read on every preview and up: it mints nothing and changes
 * nothing. Errors name the URL and the status, never the token.
 */
export async function repositoryVisibility(apiUrl: string, owner: string, repository: string, token: string): Promise<string> {
    const url = `${apiUrl}/repos/${owner}/${repository}`;
    let res: Response;
    try {
        res = await fetch(url, {
            headers: { Authorization: `Bearer ${token}`, Accept: "application/vnd.github+json", "X-GitHub-Api-Version": GITHUB_API_VERSION },
            signal: AbortSignal.timeout(30_000),
        });
    } catch (e) {
        const cause = (e as { cause?: { message?: string } }).cause?.message;
        throw new LayerstackError(`layerstack:githubApiUrl: GET ${url} failed: ${(e as Error).message}${cause ? ` (${cause})` : ""}`);
    }
    if (!res.ok) {
        throw new LayerstackError(`layerstack:githubToken: GET ${url} answered ${res.status} ${res.statusText}: the token must be able to read ${owner}/${repository}`);
    }
    const body = (await res.json()) as { visibility?: string; private?: boolean };
    if (typeof body.visibility === "string") return body.visibility;
    if (typeof body.private === "boolean") return body.private ? "private" : "public";
    throw new LayerstackError(`layerstack:githubApiUrl: GET ${url} did not say whether ${owner}/${repository} is public`);
}
