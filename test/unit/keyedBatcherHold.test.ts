// KeyedBatcher's hold (worker/keyedBatcher.ts): a fan-in upstream's report waits a moment for the
// ends of its run's other TIs running in the same worker, so that they go as one statement
// (worker/endReporter.ts) — and never longer than the hold.
import { describe, expect, it } from "vitest";
import { KeyedBatcher } from "../../worker/keyedBatcher.js";

function recording() {
  const calls: number[][] = [];
  const batcher = new KeyedBatcher<number, string>(async (key, items) => {
    calls.push(items);
    return items.map((i) => `${key}:${i}`);
  });
  return { calls, batcher };
}

describe("KeyedBatcher hold", () => {
  it("sends a held item together with the ones that make it enough", async () => {
    const { calls, batcher } = recording();
    const expected = 3;
    const hold = { ms: 5_000, enough: (waiting: number) => waiting >= expected };
    const a = batcher.submit(1, 10, hold);
    const b = batcher.submit(1, 11, hold);
    expect(calls).toEqual([]);
    const c = batcher.submit(1, 12, hold);
    expect(await Promise.all([a, b, c])).toEqual(["1:10", "1:11", "1:12"]);
    expect(calls).toEqual([[10, 11, 12]]);
  });

  it("sends a held item alone once the hold has passed", async () => {
    const { calls, batcher } = recording();
    const started = performance.now();
    const a = batcher.submit(1, 10, { ms: 30, enough: () => false });
    expect(calls).toEqual([]);
    expect(await a).toBe("1:10");
    expect(performance.now() - started).toBeGreaterThanOrEqual(25);
    expect(calls).toEqual([[10]]);
  });

  it("sends at once without a hold, or when the item alone is enough", async () => {
    const { calls, batcher } = recording();
    const a = batcher.submit(1, 10);
    const b = batcher.submit(2, 20, { ms: 5_000, enough: (n) => n >= 1 });
    expect(calls).toEqual([[10], [20]]);
    expect(await Promise.all([a, b])).toEqual(["1:10", "2:20"]);
  });

  it("an item without a hold takes a held one of its key along", async () => {
    const { calls, batcher } = recording();
    const held = batcher.submit(1, 10, { ms: 5_000, enough: () => false });
    const other = batcher.submit(2, 20, { ms: 50, enough: () => false });
    const leaf = batcher.submit(1, 11);
    expect(await Promise.all([held, leaf])).toEqual(["1:10", "1:11"]);
    expect(calls).toEqual([[10, 11]]);
    // key 2 is still held: its own hold, not key 1's flush, decides
    expect(calls.some((c) => c.includes(20))).toBe(false);
    expect(await other).toBe("2:20");
    expect(calls).toEqual([[10, 11], [20]]);
  });
});
