/**
 * Every shell command the stack runs lives in this folder, one file per area:
 *   layer.ts   build and push of an image layer
 * The scripts are constants; values reach them as environment variables (see layer.ts).
 */
export * from "./layer";
