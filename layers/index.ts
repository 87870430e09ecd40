export * from "./megapak";
