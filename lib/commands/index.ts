/**
 * Every shell command the stack runs lives in this folder, one file per area:
 *   layer.ts   build and push of an image layer
 *   image.ts   what a layer's output is (its kind, by content) and how skopeo reads it
 *   cache.ts   Cachix info, and pushing closures to Cachix or any Nix store URL
 *   runner.ts  the GPU host's runner: preflight, install, register (stdin), deregister
 *   check.ts   smoke checks inside a pushed image
 *   promote.ts moving tags (<variant>-latest) pointed at a pushed digest
 *   bounded.ts the time limit every command carries (timeout + pdeathsig), ends its whole tree
 * The scripts are constants; values reach them as environment variables (see layer.ts).
 */
export * from "./layer";
export * from "./image";
export * from "./check";
export * from "./cache";
export * from "./runner";
export * from "./promote";
export * from "./bounded";
