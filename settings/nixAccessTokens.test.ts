// layerstack:nixAccessTokens: Nix's access-tokens entries, read as Nix takes them, refused by
// entry number (never by their text), and a `?dir=` flake's flake.nix looked for in its subdirectory.
import { localFlakeDir, parseNixAccessTokens } from "./image";

const TOKEN = "ghp_Sentinel0123456789";

test("entries separated by spaces or newlines become Nix's one line", () => {
    expect(parseNixAccessTokens(`github.com=${TOKEN}\n  gitlab.example.com=PAT:glpat-x\n`)).toBe(`github.com=${TOKEN} gitlab.example.com=PAT:glpat-x`);
});

test.each([
    ["an entry without a host", `=${TOKEN}`, 1],
    ["an entry without a token", `github.com=${TOKEN} gitlab.com=`, 2],
    ["a bare token", TOKEN, 1],
    ["a URL for a host", `https://github.com=${TOKEN}`, 1],
])("%s is refused by its number, without echoing it", (_name, text, n) => {
    let message = "";
    try { parseNixAccessTokens(text); } catch (e) { message = (e as Error).message; }
    expect(message).toBe(`layerstack:nixAccessTokens: entry ${n} is not host=token, as Nix's access-tokens setting takes them (e.g. github.com=ghp_..., gitlab.example.com=PAT:glpat-...)`);
    expect(message).not.toContain(TOKEN);
});

test("an empty value is named", () => {
    expect(() => parseNixAccessTokens(" \n")).toThrow("layerstack:nixAccessTokens is empty: it holds Nix access-tokens entries, host=token (e.g. github.com=ghp_...)");
});

test("a path: flake with ?dir= is the subdirectory", () => {
    expect(localFlakeDir("path:/repo?dir=cu130-megapak-nix")).toBe("/repo/cu130-megapak-nix");
    expect(localFlakeDir("path:/repo?dir=a/b&rev=x")).toBe("/repo/a/b");
    expect(localFlakeDir("path:/repo")).toBe("/repo");
    expect(localFlakeDir("github:owner/repo?dir=x")).toBeUndefined();
});
