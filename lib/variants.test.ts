import { CUDA_VARIANTS, compareVersions, cudaLabel, driverSupports, findVariant, resolveVariant, supportedVariants } from "./variants";
import { LayerstackError } from "./errors";

describe("CUDA matrix", () => {
    test("cu130 and cu128 with their PyTorch, Python and driver minimums", () => {
        expect(CUDA_VARIANTS).toEqual([
            { id: "cu130", cuda: "13.0", pytorch: "2.10.0", python: "3.14", minDriver: "580.65.06" },
            { id: "cu128", cuda: "12.8", pytorch: "2.10.0", python: "3.14", minDriver: "570.26" },
        ]);
        expect(supportedVariants()).toBe(
            "cu130 (CUDA 13.0, PyTorch 2.10.0, Python 3.14, driver >= 580.65.06); cu128 (CUDA 12.8, PyTorch 2.10.0, Python 3.14, driver >= 570.26)");
    });

    test("an unknown variant fails listing the supported ones", () => {
        expect(() => resolveVariant("cu118")).toThrow(LayerstackError);
        expect(() => resolveVariant("cu118")).toThrow(`layerstack:variant: "cu118" is not a supported CUDA variant; supported: ${supportedVariants()}`);
    });

    test("a pinned version that does not match the variant is an unsupported combination", () => {
        expect(() => resolveVariant("cu128", { cuda: "13.0", python: "3.14" }, "layerstack:cuda"))
            .toThrow(`layerstack:cuda: cu128 with cuda 13.0 is not a supported combination; supported: ${supportedVariants()}`);
        expect(() => resolveVariant("cu130", { pytorch: "2.9.1" })).toThrow("cu130 with pytorch 2.9.1 is not a supported combination");
        expect(resolveVariant("cu130", { cuda: "13.0", pytorch: "2.10.0", python: "3.14" })).toBe(findVariant("cu130"));
    });

    test.each([
        ["580.65.06", "cu130", true],
        ["580.82.07", "cu130", true],
        ["590.1", "cu130", true],
        ["580.65.05", "cu130", false],
        ["575.57.08", "cu130", false],
        ["570.26", "cu128", true],
        ["570.124.06", "cu128", true],
        ["565.57.01", "cu128", false],
        ["garbage", "cu128", false],
        ["", "cu128", false],
    ])("driver %s runs %s: %s", (driver, id, ok) => {
        expect(driverSupports(driver, findVariant(id)!)).toBe(ok);
    });

    test("versions compare numerically, not as text", () => {
        expect(compareVersions("580.9", "580.65")).toBeLessThan(0);
        expect(compareVersions("580.65.06", "580.65.6")).toBe(0);
        expect(cudaLabel(findVariant("cu128")!)).toBe("cuda-12.8");
    });
});
