/**
 * A layer's SBOM: one CycloneDX document per layer, made from the Nix store paths its own blob
 * adds (the last layer of its image, which its parent's image does not hold), written with
 * CycloneDX's own library (@cyclonedx/cyclonedx-library), never by hand.
 *
 * The store paths come from the blob itself (LIST_OWN_STORE_PATHS, lib/commands/sign.ts: the
 * `nix/store/<hash>-<name>` entries of the pushed blob's tar), so the SBOM names exactly what
 * a consumer unpacks, whichever of the image kinds (lib/commands/image.ts) the flake hands out.
 * What Nix knows of each path comes from `nix path-info --json` (its NAR hash, its deriver).
 *
 * Each component: `name` and `version` as Nix names them (the store path's name split as
 * builtins.parseDrvName splits it, lib/contents.ts), the store path (its bom-ref and the
 * property `nix:store_path`), the NAR hash (as a SHA-256 hash of the component, hex, and
 * `nix:nar_hash` as Nix prints it) and the derivation where Nix knows it (`nix:deriver`).
 * Pure: the same paths and path infos give the same bytes (sorted lists, no serial number,
 * no timestamp), so a layer's SBOM, and with it its attestation, changes only with its content.
 */
import * as CDX from "@cyclonedx/cyclonedx-library";
import { parseDrvName, storeName } from "./contents";

/** What `nix path-info --json` says of one store path (the fields the SBOM uses). */
export interface StorePathInfo {
    readonly narHash?: string;
    readonly narSize?: number;
    /** The derivation that made it; Nix forgets it for paths it fetched or substituted without one. */
    readonly deriver?: string | null;
}

/** A store path: `/nix/store/<32 base-32 characters>-<name>`. */
export const STORE_PATH = /^\/nix\/store\/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+$/;

/**
 * `nix path-info --json` output as a map from store path: the object keyed by path of Nix
 * 2.19 and later, or the array of `{ path, ... }` of older Nix.
 */
export function parsePathInfo(json: string): Map<string, StorePathInfo> {
    const v = JSON.parse(json) as unknown;
    const out = new Map<string, StorePathInfo>();
    if (Array.isArray(v)) {
        for (const e of v as (StorePathInfo & { path: string; valid?: boolean })[]) if (e && e.valid !== false) out.set(e.path, e);
    } else if (v && typeof v === "object") {
        for (const [p, e] of Object.entries(v as Record<string, StorePathInfo | null>)) if (e) out.set(p, e);
    }
    return out;
}

const NIX32 = "0123456789abcdfghijklmnpqrsvwxyz";

/** Nix's base-32 (its own alphabet, least significant first) to bytes (libutil hash.cc). */
function nix32Bytes(s: string, size: number): Buffer {
    const out = Buffer.alloc(size);
    for (let n = 0; n < s.length; n++) {
        const digit = NIX32.indexOf(s[s.length - n - 1]);
        if (digit < 0) throw new Error(`not a Nix base-32 hash: ${s}`);
        const b = n * 5, i = b >> 3, j = b & 7;
        out[i] |= (digit << j) & 0xff;
        if (i + 1 < size) out[i + 1] |= digit >> (8 - j);
    }
    return out;
}

/**
 * A NAR hash as hex: Nix prints `sha256-<base64>` (SRI, Nix 2.19 and later) or
 * `sha256:<base-32>` (older); undefined for anything else.
 */
export function narHashHex(h: string | undefined): string | undefined {
    if (!h) return undefined;
    let m = /^sha256-([A-Za-z0-9+/]{43}=)$/.exec(h);
    if (m) return Buffer.from(m[1], "base64").toString("hex");
    m = /^sha256:([0-9a-df-np-sv-z]{52})$/.exec(h);
    if (m) return nix32Bytes(m[1], 32).toString("hex");
    m = /^sha256:([0-9a-f]{64})$/.exec(h);
    return m ? m[1] : undefined;
}

/** What the SBOM says of the layer itself (its metadata component). */
export interface SbomSubject {
    /** The layer id. */
    readonly layer: string;
    /** The pushed image, `<repository>@sha256:...`. */
    readonly imageRef: string;
    /** The image's derivation. */
    readonly drvPath: string;
}

/** The CycloneDX version the documents follow. */
export const SBOM_SPEC = CDX.Spec.Spec1dot6;

/**
 * The layer's CycloneDX document (JSON text): one library component per store path, sorted
 * by path. Throws naming the layer when a path is no store path, or Nix knows nothing of it
 * (then the SBOM would lack its NAR hash).
 */
export function layerSbom(subject: SbomSubject, storePaths: readonly string[], info: ReadonlyMap<string, StorePathInfo>): string {
    const bom = new CDX.Models.Bom();
    const digest = subject.imageRef.slice(subject.imageRef.lastIndexOf("@") + 1);
    bom.metadata.component = new CDX.Models.Component(CDX.Enums.ComponentType.Container, subject.imageRef.slice(0, subject.imageRef.lastIndexOf("@")), {
        version: digest,
        bomRef: subject.imageRef,
        properties: new CDX.Models.PropertyRepository([
            new CDX.Models.Property("layerstack:layer", subject.layer),
            new CDX.Models.Property("nix:drv_path", subject.drvPath),
        ]),
    });
    bom.metadata.tools.components.add(new CDX.Models.Component(CDX.Enums.ComponentType.Application, "layerstack"));
    for (const path of [...new Set(storePaths)].sort()) {
        if (!STORE_PATH.test(path)) throw new Error(`layer ${subject.layer}: SBOM: ${JSON.stringify(path)} is no store path`);
        const i = info.get(path);
        const hex = narHashHex(i?.narHash);
        if (!i || !hex) throw new Error(`layer ${subject.layer}: SBOM: Nix has no NAR hash of ${path} (is it in this machine's store?)`);
        const { name, version } = parseDrvName(storeName(path));
        const props = [new CDX.Models.Property("nix:store_path", path), new CDX.Models.Property("nix:nar_hash", i.narHash!)];
        if (i.deriver) props.push(new CDX.Models.Property("nix:deriver", i.deriver));
        if (i.narSize !== undefined) props.push(new CDX.Models.Property("nix:nar_size", String(i.narSize)));
        const c = new CDX.Models.Component(CDX.Enums.ComponentType.Library, name, {
            bomRef: path,
            ...(version ? { version } : {}),
            hashes: new CDX.Models.HashDictionary([[CDX.Enums.HashAlgorithm["SHA-256"], hex]]),
            properties: new CDX.Models.PropertyRepository(props),
        });
        bom.components.add(c);
        bom.metadata.component.dependencies.add(c.bomRef);
    }
    const serializer = new CDX.Serialize.JsonSerializer(new CDX.Serialize.JSON.Normalize.Factory(SBOM_SPEC));
    return serializer.serialize(bom, { sortLists: true });
}

/** The store paths a CycloneDX document made by layerSbom names (its components' `nix:store_path`), sorted. */
export function sbomStorePaths(doc: string): string[] {
    const bom = JSON.parse(doc) as { components?: { properties?: { name: string; value: string }[] }[] };
    return (bom.components ?? []).flatMap((c) => (c.properties ?? []).filter((p) => p.name === "nix:store_path").map((p) => p.value)).sort();
}
