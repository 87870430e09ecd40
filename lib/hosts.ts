/** Host names, SSH targets and SSH host keys, as config gives them: the grammar written once. */

/** One DNS label (RFC 1123), any case. */
export const HOST_LABEL = "[a-z0-9]([a-z0-9-]*[a-z0-9])?";

/** `user@host[:port]`, the host a name or a bracketed IPv6 address. */
export const SSH_TARGET = new RegExp(`^(?<user>[^@\\s]+)@(?<host>\\[[0-9a-fA-F:]+\\]|${HOST_LABEL}(\\.${HOST_LABEL})*)(:(?<port>\\d{1,5}))?$`, "i");

/** An SSH public key as `ssh-keyscan` prints it, with or without the leading host name. */
export const HOST_KEY = /^(?:(?<host>\S+)\s+)?(?<type>ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(?:256|384|521)|sk-ssh-ed25519@openssh\.com|sk-ecdsa-sha2-nistp256@openssh\.com)\s+(?<key>[A-Za-z0-9+/]+={0,3})(?:\s+\S.*)?$/;

/** What a config's host key that is not one is told: the form HOST_KEY reads. */
export const NOT_A_HOST_KEY = 'is not an SSH public key ("ssh-ed25519 AAAA...", as ssh-keyscan prints it)';

/** A host key as config gives it (HOST_KEY), as the `<type> <base64>` line SSH pins; undefined when it is not one. */
export function hostKeyLine(text: unknown): string | undefined {
    const m = typeof text === "string" ? HOST_KEY.exec(text.trim()) : null;
    return m ? `${m.groups!.type} ${m.groups!.key}` : undefined;
}
