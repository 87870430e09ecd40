/**
 * Every shell command the stack runs lives in this folder, one file per area:
 *   layer.ts   build and push of an image layer
 *   cache.ts   Cachix info, and pushing closures to Cachix or any Nix store URL
 *   runner.ts  the GPU host's runner: preflight, install, register (stdin), deregister
 *   check.ts   smoke checks inside a pushed image
 *   promote.ts moving tags (<variant>-latest) pointed at a pushed digest
 *   bounded.ts the time limit every command carries (timeout + pdeathsig), ends its whole tree
 *   builders.ts a build with the stack's Nix remote builders (the SSH key in a private file)
 * The scripts are constants; values reach them as environment variables (see layer.ts).
 */
export * from "./layer";
export * from "./check";
export * from "./cache";
export * from "./runner";
export * from "./promote";
export * from "./bounded";
export * from "./builders";
