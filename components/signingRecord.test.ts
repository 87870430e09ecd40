import { SIGNING_RECORD_PROVIDER, SigningRecordInputs } from "./signingRecord";

/** The provider as the official dynamic provider loads it: the module's handler(). */
function provider(): any {
    const module = { exports: {} as any };
    new Function("exports", "require", "module", SIGNING_RECORD_PROVIDER)(module.exports, require, module);
    return module.exports.handler();
}

describe("SigningRecord's provider (the module the dynamic provider loads)", () => {
    const p = provider();
    const a: SigningRecordInputs = { key: "sha256:aa", value: '{"builder":"one"}' };

    test("create keeps the value, under a new id", async () => {
        const r = await p.create(a);
        expect(r.outs).toEqual(a);
        expect(r.id).toMatch(/^[0-9a-f-]{36}$/);
        expect((await p.create(a)).id).not.toBe(r.id);
    });

    test("a new value for the same key is no change; a new key is one, and the update takes the new value", async () => {
        expect(await p.diff("id", a, { ...a, value: '{"builder":"two"}' })).toEqual({ changes: false });
        const b = { key: "sha256:bb", value: '{"builder":"two"}' };
        expect(await p.diff("id", a, b)).toEqual({ changes: true });
        expect((await p.update("id", a, b)).outs).toEqual(b);
    });
});
