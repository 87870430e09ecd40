import { distributionName, pakDistributions, normalizeDistribution } from "./packages";

test.each([
    ["accelerate", "accelerate"],
    ["imageio[ffmpeg]", "imageio"],
    ["qrcode[pil]", "qrcode"],
    ["GitPython", "GitPython"],
    ["git+https://github.com/openai/CLIP.git", "CLIP"],
    ["git+https://github.com/cozy-comfyui/cozy_comfyui@main#egg=cozy_comfyui", "cozy_comfyui"],
    ["git+https://github.com/ltdrdata/img2texture.git", "img2texture"],
    ["# Essentials", undefined],
    ["   ", undefined],
])("%s -> %s", (line, want) => expect(distributionName(line)).toBe(want));

test("the three paks list the seed's packages", () => {
    expect(pakDistributions("pak3")).toHaveLength(34); // 41 lines, of which 7 are comments or blank
    expect(pakDistributions("pak5")).toHaveLength(71);
    expect(pakDistributions("pak7")).toEqual(["dlib", "facexlib", "insightface", "CLIP", "cozy_comfyui", "cozy_comfy", "cstr", "ffmpy", "img2texture"]);
    expect(pakDistributions("pak3")).toContain("opencv-contrib-python-headless");
});

test("normalisation follows PEP 503 with underscores", () => {
    expect(normalizeDistribution("opencv-contrib-python")).toBe("opencv_contrib_python");
    expect(normalizeDistribution("Blend.Modes")).toBe("blend_modes");
});
