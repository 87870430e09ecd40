// Two projects: fast unit tests (Pulumi mocks for what cannot run here, real Nix eval for
// the rest) and end-to-end tests that drive the real Pulumi engine, Nix, skopeo and registry.
const tsJest = { "^.+\\.ts$": ["ts-jest", {}] };
module.exports = {
  testTimeout: 900000,
  projects: [
    {
      displayName: "unit",
      testEnvironment: "node",
      transform: tsJest,
      testMatch: ["<rootDir>/{settings,lib,components,layers}/**/*.test.ts", "<rootDir>/test/*.test.ts"],
    },
    {
      displayName: "e2e",
      testEnvironment: "node",
      transform: tsJest,
      testMatch: ["<rootDir>/test/e2e/**/*.test.ts"],
    },
  ],
};
