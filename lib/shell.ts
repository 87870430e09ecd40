/** Quotes a string for POSIX sh. For the rare place a value must appear in text (the docs, a check's arguments). */
export function shellQuote(s: string): string {
    return /^[A-Za-z0-9_@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`;
}
