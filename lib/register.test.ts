import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

// lib/register.js is how `pulumi preview` and `up` load the program (Pulumi.yaml nodeargs).
// These run it as Pulumi does: `node --require ./lib/register.js`, from the project root.
const ROOT = path.join(__dirname, "..");

function runTs(source: string): { status: number | null; stdout: string; stderr: string } {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "layerstack-register-"));
    try {
        const file = path.join(dir, "program.ts");
        fs.writeFileSync(file, source);
        const r = spawnSync(process.execPath, ["--require", "./lib/register.js", "-e", `require(${JSON.stringify(file)})`], { cwd: ROOT, encoding: "utf8" });
        return { status: r.status, stdout: r.stdout, stderr: r.stderr };
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
}

test("a class's declared-only field keeps what the base constructor set (a resource's outputs, as CustomResource sets them)", () => {
    const r = runTs([
        "class Base { constructor() { (this as any).value = 'set by the base'; } }",
        "class Record extends Base { public readonly value!: string; }",
        "console.log(JSON.stringify(new Record().value));",
    ].join("\n"));
    expect(r).toEqual({ status: 0, stdout: "\"set by the base\"\n", stderr: "" });
});

test("TypeScript syntax, ES module imports of the project's modules and esModuleInterop default imports all load", () => {
    const r = runTs([
        `import { LayerstackError } from ${JSON.stringify(path.join(ROOT, "lib/errors"))};`,
        "import path from \"path\";",
        "enum Kind { A = 'a' }",
        "const e: Error = new LayerstackError('layerstack:flake: bad');",
        "console.log(Kind.A, path.basename('/x/y.ts'), e.message, e instanceof Error);",
    ].join("\n"));
    expect(r).toEqual({ status: 0, stdout: "a y.ts layerstack:flake: bad true\n", stderr: "" });
});

test("the project's tsconfig.json agrees: tsc emits no field definition for a declared-only field either", () => {
    const tsconfig = JSON.parse(fs.readFileSync(path.join(ROOT, "tsconfig.json"), "utf8"));
    expect(tsconfig.compilerOptions.useDefineForClassFields).toBe(false);
    const ts = require("typescript") as typeof import("typescript");
    const out = ts.transpileModule("class B {} class R extends B { public readonly value!: string; }", {
        compilerOptions: { target: ts.ScriptTarget.ES2022, module: ts.ModuleKind.CommonJS, useDefineForClassFields: tsconfig.compilerOptions.useDefineForClassFields },
    }).outputText;
    expect(out).not.toMatch(/^\s*value;/m);
});
