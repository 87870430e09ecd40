import { LayerstackError } from "./errors";

/**
 * The supported CUDA matrix, in one place. Every other module asks this one.
 *
 * Driver minimums: NVIDIA, "CUDA Toolkit Release Notes", table 3 "CUDA Toolkit and
 * Corresponding Driver Versions" (https://docs.nvidia.com/cuda/cuda-toolkit-release-notes/):
 * CUDA 13.0 GA needs Linux driver >= 580.65.06, CUDA 12.8 GA needs >= 570.26.
 * PyTorch 2.10.0 publishes cu128 and cu130 wheels (https://download.pytorch.org/whl/cu128,
 * .../cu130) for CPython 3.10 to 3.14, so both variants use Python 3.14.
 */
export interface CudaVariant {
    /** The variant id; starts every tag and names the stack, e.g. `cu130`. */
    readonly id: string;
    /** CUDA toolkit version, `major.minor`. */
    readonly cuda: string;
    readonly pytorch: string;
    readonly python: string;
    /** Oldest Linux driver that runs this CUDA toolkit (dotted version, compared numerically). */
    readonly minDriver: string;
}

export const CUDA_VARIANTS: readonly CudaVariant[] = Object.freeze([
    { id: "cu130", cuda: "13.0", pytorch: "2.10.0", python: "3.14", minDriver: "580.65.06" },
    { id: "cu128", cuda: "12.8", pytorch: "2.10.0", python: "3.14", minDriver: "570.26" },
]);

/** `cu130 (CUDA 13.0, PyTorch 2.10.0, Python 3.14, driver >= 580.65.06); ...` for messages. */
export function supportedVariants(): string {
    return CUDA_VARIANTS.map((v) => `${v.id} (CUDA ${v.cuda}, PyTorch ${v.pytorch}, Python ${v.python}, driver >= ${v.minDriver})`).join("; ");
}

export function findVariant(id: string): CudaVariant | undefined {
    return CUDA_VARIANTS.find((v) => v.id === id);
}

/**
 * The variant with this id, checked against any versions the stack pins. Throws, naming
 * `key` and listing the supported combinations, when the id or a version does not match.
 */
export function resolveVariant(id: string, pins: { cuda?: string; pytorch?: string; python?: string } = {}, key = "layerstack:variant"): CudaVariant {
    const v = findVariant(id);
    if (!v) throw new LayerstackError(`${key}: ${JSON.stringify(id)} is not a supported CUDA variant; supported: ${supportedVariants()}`);
    const wrong = (["cuda", "pytorch", "python"] as const).filter((k) => pins[k] !== undefined && pins[k] !== v[k]);
    if (wrong.length > 0) {
        const got = wrong.map((k) => `${k} ${pins[k]}`).join(", ");
        throw new LayerstackError(`${key}: ${id} with ${got} is not a supported combination; supported: ${supportedVariants()}`);
    }
    return v;
}

/** Compares dotted numeric versions (`580.65.06` vs `580.82`): negative, zero or positive. */
export function compareVersions(a: string, b: string): number {
    const pa = a.split(".").map(Number);
    const pb = b.split(".").map(Number);
    for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
        const d = (pa[i] ?? 0) - (pb[i] ?? 0);
        if (d !== 0) return d;
    }
    return 0;
}

/** Whether a driver version (as `nvidia-smi` prints it) runs the variant's CUDA. */
export function driverSupports(driver: string, variant: CudaVariant): boolean {
    if (!/^\d+(\.\d+)*$/.test(driver)) return false;
    return compareVersions(driver, variant.minDriver) >= 0;
}

/** The runner label that names the variant's CUDA version, e.g. `cuda-13.0`. */
export function cudaLabel(variant: CudaVariant): string {
    return `cuda-${variant.cuda}`;
}
