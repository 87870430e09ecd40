import { READ_TRIES, readCheckpointAgain } from "./changeReport";

// The engine's readStackOutputs as a file backend answers it while the same stack's `up` writes
// its checkpoint (lib/changeReport.ts lastUpdate): "failed to load checkpoint: EOF", then the outputs.
function answers(...errors: string[]): { read: () => Promise<string>; calls: () => number } {
    let n = 0;
    return {
        read: async () => {
            const e = errors[n++];
            if (e) throw new Error(`invocation of pulumi:pulumi:readStackOutputs returned an error: ${e}`);
            return "outputs";
        },
        calls: () => n,
    };
}
const pauses: number[] = [];
const pause = async (ms: number) => { pauses.push(ms); };

test("a read that meets the backend's own write is tried again, a little later each time, and gets the outputs", async () => {
    pauses.length = 0;
    const a = answers("failed to load checkpoint: EOF", "failed to load checkpoint: EOF");
    await expect(readCheckpointAgain(a.read, pause)).resolves.toBe("outputs");
    expect(a.calls()).toBe(3);
    expect(pauses).toEqual([50, 100]);
});

test("any other error fails at once; the same one every time fails after READ_TRIES tries", async () => {
    const other = answers("permission denied");
    await expect(readCheckpointAgain(other.read, pause)).rejects.toThrow("returned an error: permission denied");
    expect(other.calls()).toBe(1);
    const always = answers(...Array(20).fill("failed to load checkpoint: EOF"));
    await expect(readCheckpointAgain(always.read, pause)).rejects.toThrow("failed to load checkpoint: EOF");
    expect(always.calls()).toBe(READ_TRIES);
    expect(READ_TRIES).toBe(10);
});
