export * from "./megapak";
export * from "./checks";
export * from "./packages";
export * from "./compose";
