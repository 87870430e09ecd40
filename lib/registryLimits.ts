// What a registry refuses, checked against the preview's estimates before anything is built
// (layerstack:registryLimits), and by the push against the real blob before it is uploaded
// (lib/commands/layer.ts BLOB_LIMIT_CHECK).
//
// GHCR's, the defaults where the registry is ghcr.io: a layer blob of at most 10 GB, and an
// upload that fails after about 10 minutes, as GitHub's Container registry documentation states
// them (the stored docs here do not hold that page: the figures are those of the issue that asked
// for this, and the README says so; a stack can set its own). overlayfs stacks at most 128 lower
// directories in one mount on a kernel of 4.x and later (its lowerdir limit), so an image of
// more layers than that does not start under Docker's overlay2: 127 leaves the container's own
// upper layer. The upload time is an estimate at an assumed bandwidth, so it only warns; the
// blob size and the layer count fail the preview, unless `allowOverLimits` is set.
import type { PreviewReport } from "./previewReport";

export interface RegistryLimits {
    /** The largest blob the registry accepts, in bytes. @default GHCR: 10 GB (10,000,000,000) */
    readonly maxBlobBytes?: number;
    /** The longest upload of one blob the registry lets finish, in seconds. @default GHCR: 600 */
    readonly maxUploadSeconds?: number;
    /** The bandwidth the upload time is estimated at, in bytes per second. @default 25,000,000 (200 Mbit/s) */
    readonly uploadBytesPerSecond?: number;
    /** The most layers an image may have. @default GHCR: 127 (overlayfs) */
    readonly maxLayers?: number;
    /** Over a limit: warn instead of failing. @default false */
    readonly allowOverLimits?: boolean;
}

export const GHCR_LIMITS: RegistryLimits = { maxBlobBytes: 10_000_000_000, maxUploadSeconds: 600, uploadBytesPerSecond: 25_000_000, maxLayers: 127 };

/** The limits of a registry: the stack's, over GHCR's defaults where the registry is ghcr.io, else none. */
export function limitsFor(registry: string, own?: RegistryLimits): RegistryLimits {
    const base = registry === "ghcr.io" ? GHCR_LIMITS : {};
    return { ...base, ...(own ?? {}) };
}

/** Whether any limit is set (a firm one, which the builds must wait for the check of). */
export function hasLimits(l: RegistryLimits): boolean {
    return l.maxBlobBytes !== undefined || l.maxLayers !== undefined || l.maxUploadSeconds !== undefined;
}

/** The message of a blob over the limit (the preview's and the push's). */
export function blobLimitMessage(layer: string, bytes: number, limit: number, estimate?: string): string {
    return `layer ${layer}: its blob of ${bytes} B${estimate ? ` (${estimate})` : ""} is over the registry's limit of ${limit} B (layerstack:registryLimits maxBlobBytes); the registry would refuse it`;
}

/** The preview's word on each layer that changes: errors (which fail it) and warnings. */
export function checkLimits(report: PreviewReport, limits: RegistryLimits): { errors: string[]; warnings: string[] } {
    const errors: string[] = [], warnings: string[] = [];
    const over = (msg: string, firm: boolean) => (firm && !limits.allowOverLimits ? errors : warnings).push(msg);
    for (const r of report.rows) {
        if (r.change === "unchanged") continue;
        const from = r.uploadFrom === "forecast NAR sizes" ? "estimated from the forecast's NAR sizes" : "estimated from its last publish";
        if (limits.maxBlobBytes !== undefined && r.blobBytes !== undefined && r.blobBytes > limits.maxBlobBytes) {
            over(blobLimitMessage(r.id, r.blobBytes, limits.maxBlobBytes, from), true);
        }
        if (limits.maxLayers !== undefined && r.layerCount !== undefined && r.layerCount > limits.maxLayers) {
            over(`layer ${r.id}: its image has ${r.layerCount} layers, over the limit of ${limits.maxLayers} (layerstack:registryLimits maxLayers: overlayfs mounts at most 128 lower layers)`, true);
        }
        if (limits.maxUploadSeconds !== undefined && r.blobBytes !== undefined && r.uploadFrom !== "last publish: config and manifest") {
            const seconds = r.blobBytes / (limits.uploadBytesPerSecond ?? GHCR_LIMITS.uploadBytesPerSecond!);
            if (seconds > limits.maxUploadSeconds) {
                over(`layer ${r.id}: its blob of ${r.blobBytes} B (${from}) takes about ${Math.round(seconds)} s to upload at ${limits.uploadBytesPerSecond ?? GHCR_LIMITS.uploadBytesPerSecond} bytes/s, over the registry's ${limits.maxUploadSeconds} s (layerstack:registryLimits maxUploadSeconds, uploadBytesPerSecond); an estimate, so a warning`, false);
            }
        }
    }
    return { errors, warnings };
}
