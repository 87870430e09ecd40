// The project's import rule, checked by dependency-cruiser (`npm run check:deps`, in `npm test`).
// Imports run one way, each folder importing only from the folders after it:
//
//   index.ts, layerstack.ts  the program and the package's entry (top level)
//   -> settings/             the stack's settings: layerstack:* keys to each component's args
//   -> components/           one ComponentResource per file, each validating its own args
//   -> layers/               the megapak catalog: layers, checks, package lists, their composition
//   -> lib/                  library code: the layer graph, Nix, commands, registry, defaults, names
//
// components/ and layers/ never import each other: components know checks and layers only by
// their types (lib/checks.ts, lib/graph.ts). No module imports a folder above it, nothing in
// the package imports scripts/, bench/ or test/, and there are no cycles. No exception.
const TOP = "^(index|layerstack)\\.ts$";
const above = {
    settings: [TOP],
    components: [TOP, "^settings/"],
    layers: [TOP, "^settings/", "^components/"],
    lib: [TOP, "^settings/", "^components/", "^layers/"],
};

/** @type {import('dependency-cruiser').IConfiguration} */
module.exports = {
    forbidden: [
        ...Object.entries(above).map(([folder, targets]) => ({
            name: `${folder}-imports-downward-only`,
            severity: "error",
            comment: `${folder}/ may import only folders below it (index.ts -> settings/ -> components/ -> layers/ -> lib/)`,
            from: { path: `^${folder}/` },
            to: { path: targets },
        })),
        {
            name: "components-not-catalog",
            severity: "error",
            comment: "components/ know checks and layers by their types in lib/, never the catalog (layers/)",
            from: { path: "^components/" },
            to: { path: "^layers/" },
        },
        {
            name: "package-not-tools",
            severity: "error",
            comment: "the package never imports the scripts, benchmarks or tests",
            from: { path: [TOP, "^(settings|components|layers|lib)/"] },
            to: { path: "^(scripts|bench|test)/" },
        },
        {
            name: "no-circular",
            severity: "error",
            comment: "no cycles",
            from: {},
            to: { circular: true },
        },
        {
            name: "not-to-unresolvable",
            severity: "error",
            comment: "every import resolves to a file (a typo is not an architecture)",
            from: {},
            to: { couldNotResolve: true },
        },
    ],
    options: {
        // Type-only imports count too: the rule is about the code's structure, not its runtime.
        tsPreCompilationDeps: true,
        tsConfig: { fileName: "tsconfig.json" },
        doNotFollow: { path: "node_modules" },
        exclude: { path: "\\.test\\.ts$" },
    },
};
