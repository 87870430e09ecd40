// How `pulumi preview` and `pulumi up` load the TypeScript program (Pulumi.yaml: `typescript:
// false`, `nodeargs: --require ./lib/register.js`): each .ts file is transpiled with SWC
// (@swc/core, a dependency) as Node requires it. Nothing is compiled ahead, so no build step
// and no stale dist/ can come between an edit and a preview.
//
// Why not Pulumi's own ts-node (`typescript: true`)? Measured with a CPU profile of the
// program (`nodeargs: --cpu-prof`) on a no-op preview of the dev stack:
//  - ts-node loads TypeScript itself, even when it transpiles with SWC (about 0.4 s);
//  - ts-node installs source-map-support, which maps every frame of the stack trace that
//    @pulumi/pulumi captures for each resource it registers (resource.js `Resource.callsites`,
//    with `Error.stackTraceLimit = Infinity`): about 0.75 s for the 162 resources of a signed
//    stack.
// Nothing here checks types: `npm test` does, once (tsc -p tsconfig.json).
//
// The options are those ts-node's own SWC transpiler derives from tsconfig.json (target
// ES2022, CommonJS with esModuleInterop, class names kept, tsconfig's useDefineForClassFields:
// ts-node dist/transpilers/swc.js `createSwcOptions`). useDefineForClassFields is false, as in
// tsconfig.json: a resource class's declared outputs (`readonly value!: Output<string>`) must
// not become field definitions, which would reset to undefined, after super() returns, the
// outputs that @pulumi/pulumi's CustomResource constructor has just set (lib/register.test.ts).
// The source map is inlined, so `NODE_OPTIONS=--enable-source-maps` maps a stack trace back to
// the .ts lines when one is wanted; without that flag Node ignores it and maps nothing.
"use strict";
const fs = require("fs");
const Module = require("module");
const swc = require("@swc/core");

const OPTIONS = {
    swcrc: false,
    configFile: false,
    sourceMaps: "inline",
    jsc: {
        parser: { syntax: "typescript", tsx: false },
        target: "es2022",
        keepClassNames: true,
        transform: { useDefineForClassFields: false },
    },
    module: { type: "commonjs", noInterop: false, strictMode: true },
};

Module._extensions[".ts"] = function compileTypeScript(module, filename) {
    const source = fs.readFileSync(filename, "utf8");
    const { code } = swc.transformSync(source, { ...OPTIONS, filename });
    module._compile(code, filename);
};
