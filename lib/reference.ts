/**
 * Image references, by the OCI distribution grammar, checked before anything is built:
 * a name the registry would refuse (`invalid reference format`) must fail the program, not
 * the push after hours of building.
 *
 * The grammar is distribution/reference's (regexp.go, reference.go):
 *   path-component := alpha-numeric [separator alpha-numeric]*
 *   alpha-numeric  := /[a-z0-9]+/
 *   separator      := /[_.]|__|[-]+/      (one period, one or two underscores, any dashes)
 *   tag            := /[\w][\w.-]{0,127}/
 * and a name may be at most 255 characters (NameTotalLengthMax). docker/distribution v2.8's
 * reference.go, which skopeo 1.9 (containers/image) and the distribution 2.8 registry use,
 * counts the whole name with its domain (`len(matches[1]) > NameTotalLengthMax`); newer
 * distribution/reference counts the path only. We hold to the stricter: registry + path.
 */

/** One path component: lowercase letters and digits, joined by `.`, `_`, `__` or dashes. */
export const PATH_COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
/** A repository path: path components separated by `/`. */
export const REPOSITORY_PATH = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$/;
/** A tag. */
export const TAG = /^[\w][\w.-]{0,127}$/;
/** The most characters of a name (`<registry>/<path>`), docker/distribution's NameTotalLengthMax. */
export const NAME_TOTAL_LENGTH_MAX = 255;

/**
 * Whether a registry `host[:port]` is on the loopback interface, where it is reached over
 * plain HTTP (as Docker and containers/image do for localhost). Host names are
 * case-insensitive (RFC 4343), so `LOCALHOST:5000` is loopback too.
 */
export function isLoopbackRegistry(registry: string): boolean {
    const host = registry.replace(/:\d+$/, "").replace(/^\[|\]$/g, "").toLowerCase();
    return host === "localhost" || host === "::1" || host === "0:0:0:0:0:0:0:1" || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Why `<registry>/<path>` is not a valid image name, or undefined when it is. */
export function nameProblem(registry: string, path: string): string | undefined {
    if (!REPOSITORY_PATH.test(path)) return `"${path}" is not a repository path`;
    const name = `${registry}/${path}`;
    if (name.length > NAME_TOTAL_LENGTH_MAX) return `"${name}" is ${name.length} characters; an image name may have at most ${NAME_TOTAL_LENGTH_MAX}`;
    return undefined;
}
