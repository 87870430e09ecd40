/**
 * Every shell command the stack runs lives in this folder, one file per area:
 *   layer.ts   build and push of an image layer
 *   image.ts   what a layer's output is (its kind, by content) and how skopeo reads it
 *   cache.ts   Cachix info, and pushing closures to Cachix or any Nix store URL
 *   runner.ts  the GPU host's runner: preflight, install, register (stdin), deregister
 *   check.ts   smoke checks inside a pushed image
 *   promote.ts moving tags (<variant>-latest) pointed at a pushed digest
 *   bounded.ts the time limit every command carries (timeout + pdeathsig), ends its whole tree
 *   env.ts     the environment fragments several scripts share (registry, Nix settings, layer)
 *   builders.ts a build with the stack's Nix remote builders (the SSH key in a private file)
 *   container.ts a nix2container image's own layers: the build of one, what its layers.json says
 *   sign.ts    cosign: the store paths of a layer's own blob (its SBOM's), sign and attest by digest
 * The scripts are constants; values reach them as environment variables, each script's built
 * by one typed function beside it (buildEnv, pushEnv, localCheckEnv, promoteEnv, cachixPushEnv,
 * sshEnv, buildersEnv, ...), so every LAYERSTACK_* name is written once in TypeScript.
 */
export * from "./layer";
export * from "./image";
export * from "./check";
export * from "./cache";
export * from "./runner";
export * from "./promote";
export * from "./bounded";
export * from "./env";
export * from "./builders";
export * from "./container";
export * from "./sign";
