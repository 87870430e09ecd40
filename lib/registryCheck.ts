/**
 * The provider of components/registryImage.ts (the registry read-back): what the dynamic
 * provider process `pulumi-resource-pulumi-nodejs` runs for each RegistryImage, and the text
 * the program hands it as the resource's `__provider` input.
 *
 * Why not `pulumi.dynamic.Resource`: it serializes the provider with Pulumi's closure
 * serializer (@pulumi/pulumi runtime/closure/serializeClosure.js), which parses every captured
 * function with TypeScript to find its free variables. That took 0.4 to 0.55 s of every
 * preview's program on this machine (once per run), for code that never changes between
 * runs. The provider's code is three small modules that import nothing but Node's own
 * (this file, lib/registry.ts, lib/reference.ts), so the program hands their JavaScript
 * over as they are: a CommonJS bundle whose `handler()` returns the provider, which is the
 * shape the official dynamic provider loads (cmd/dynamic-provider/index.js getProvider:
 * `requireFromString(props.__provider).handler()`). The text is the modules' code only, no
 * value of the stack: credentials reach the provider as the resource's (secret) inputs.
 */
import type * as pulumi from "@pulumi/pulumi";
import { RegistryClient } from "./registry";

/** A RegistryImage's inputs and state. */
export interface RegistryImageState {
    registry: string;
    repository: string;
    tag: string;
    username?: string;
    password?: string;
    /** Whether the last look found the reference (absent before the first look). */
    inRegistry?: boolean;
}

/** What makes a RegistryImage stand for another reference: a change of these replaces it. */
const IDENTITY: (keyof RegistryImageState)[] = ["registry", "repository", "tag"];

async function lookup(s: RegistryImageState): Promise<boolean> {
    const client = new RegistryClient({ registry: s.registry, username: s.username, password: s.password });
    return (await client.headManifest(s.repository, s.tag)) !== null;
}

/** The provider: one manifest HEAD per diff and read (components/registryImage.ts says why). */
export const registryImageProvider: pulumi.dynamic.ResourceProvider = {
    async diff(_id: string, olds: RegistryImageState, news: RegistryImageState): Promise<pulumi.dynamic.DiffResult> {
        const replaces = IDENTITY.filter((k) => olds[k] !== news[k]);
        if (replaces.length > 0) return { changes: true, replaces };
        if (!(await lookup(news))) return { changes: true, replaces: ["inRegistry"] };
        // A changed username or password is stored, nothing more.
        return { changes: olds.username !== news.username || olds.password !== news.password };
    },
    async create(inputs: RegistryImageState): Promise<pulumi.dynamic.CreateResult> {
        const crypto = require("crypto") as typeof import("crypto");
        return { id: crypto.randomUUID(), outs: { ...inputs, inRegistry: true } };
    },
    async update(_id: string, _olds: RegistryImageState, news: RegistryImageState): Promise<pulumi.dynamic.UpdateResult> {
        return { outs: { ...news, inRegistry: true } };
    },
    async read(id: string, props: RegistryImageState): Promise<pulumi.dynamic.ReadResult> {
        return { id, props: { ...props, inRegistry: await lookup(props) } };
    },
    async delete(): Promise<void> {
        // Nothing: retiring images is ImageRetention's (keepImages, deleteImagesOnDestroy).
    },
};

/** The modules of the bundle, by the name they are required with; the last one is the entry. */
const MODULES = ["./reference", "./registry", "./registryCheck"];

/**
 * A module's JavaScript: the file itself when the program runs compiled (dist/), or the
 * TypeScript source transpiled alone when it runs from source (as `pulumi preview` runs the
 * program, through lib/register.js, or under ts-node). It is transpiled with SWC, as
 * lib/register.js transpiles the program itself: TypeScript's transpileModule took about 0.25 s of every
 * preview here (a CPU profile of the program), SWC a few milliseconds. TypeScript's is the
 * fallback where @swc/core has no binary for the platform.
 */
function moduleJavaScript(name: string): string {
    const fs = require("fs") as typeof import("fs");
    const file = require.resolve(name);
    const text = fs.readFileSync(file, "utf8");
    if (!file.endsWith(".ts")) return text;
    try {
        const swc = require("@swc/core") as typeof import("@swc/core");
        return swc.transformSync(text, {
            filename: file, sourceMaps: false, swcrc: false, configFile: false,
            jsc: { parser: { syntax: "typescript" }, target: "es2022" }, module: { type: "commonjs" },
        }).code;
    } catch {
        // No SWC here: TypeScript's own transpiler, as ts-node's transpile-only mode uses.
    }
    const ts = require("typescript") as typeof import("typescript");
    return ts.transpileModule(text, {
        fileName: file,
        compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022, esModuleInterop: true, sourceMap: false, inlineSourceMap: false },
    }).outputText;
}

let bundle: string | undefined;

/**
 * The `__provider` text: the three modules as one CommonJS module, each in a function of its
 * own with a `require` that answers their names among themselves and hands any other name
 * (Node's http, https, tls, fs, crypto) to the real `require`. Built once per program run.
 */
export function registryImageProviderText(): string {
    if (bundle !== undefined) return bundle;
    const defs = MODULES.map((m) => `${JSON.stringify(m)}: function (exports, require, module) {\n${moduleJavaScript(m)}\n}`);
    bundle = [
        "\"use strict\";",
        "// layerstack's registry read-back (lib/registryCheck.ts, lib/registry.ts, lib/reference.ts).",
        `const modules = {\n${defs.join(",\n")}\n};`,
        "const loaded = {};",
        "function load(name) {",
        "    if (!Object.prototype.hasOwnProperty.call(modules, name)) return require(name);",
        "    if (!loaded[name]) { const module = { exports: {} }; loaded[name] = module; modules[name](module.exports, load, module); }",
        "    return loaded[name].exports;",
        "}",
        `exports.handler = () => load(${JSON.stringify(MODULES[MODULES.length - 1])}).registryImageProvider;`,
        "",
    ].join("\n");
    return bundle;
}
