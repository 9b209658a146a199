// Retry delays as Airflow's TaskInstance.next_retry_datetime: a fixed retry_delay, or with
// retry_exponential_backoff a deterministic per-try jitter in [d·2^(n-1), d·2^n) seconds after try n
// fails (i.e. before try n+1), capped at 24 h and by max_retry_delay.
import { describe, expect, it } from "vitest";
import { MAX_EXPONENTIAL_RETRY_DELAY_MS, retryDelayMs } from "../../engine/semantics/retry.js";

const SEEDS = Array.from({ length: 200 }, (_, i) => `ti-${i}`);

describe("retryDelayMs without exponential backoff", () => {
  it.each([1, 2, 5, 30])("is retryDelay itself after try %i", (tryNumber) => {
    expect(retryDelayMs({ retryDelayMs: 10_000, exponential: false, tryNumber, seed: "x" })).toBe(10_000);
  });

  it("keeps sub-second delays and ignores maxRetryDelay, as Airflow does", () => {
    expect(retryDelayMs({ retryDelayMs: 250, exponential: false, tryNumber: 1 })).toBe(250);
    expect(retryDelayMs({ retryDelayMs: 2 * 86_400_000, exponential: false, maxRetryDelayMs: 1_000, tryNumber: 3 })).toBe(2 * 86_400_000);
  });
});

describe("retryDelayMs with exponential backoff", () => {
  it.each([
    // [retryDelay ms, failed try, lower bound ms (inclusive), upper bound ms (exclusive)]
    [10_000, 1, 10_000, 20_000],
    [10_000, 2, 20_000, 40_000],
    [10_000, 3, 40_000, 80_000],
    [10_000, 6, 320_000, 640_000],
    [300_000, 1, 300_000, 600_000], // Airflow's default retry_delay, 5 min
    [300_000, 4, 2_400_000, 4_800_000],
  ])("retryDelay %i ms, after try %i: in [%i, %i) ms", (delay, tryNumber, low, high) => {
    const values = SEEDS.map((seed) => retryDelayMs({ retryDelayMs: delay, exponential: true, tryNumber, seed }));
    for (const v of values) {
      expect(v).toBeGreaterThanOrEqual(low);
      expect(v).toBeLessThan(high);
      expect(v % 1000).toBe(0); // whole seconds, like Airflow's
    }
    // Jittered: different TIs retrying at once spread out instead of stampeding.
    const possible = (high - low) / 1000;
    expect(new Set(values).size).toBeGreaterThanOrEqual(Math.min(possible, SEEDS.length) / 2);
  });

  it("is deterministic for one TI and try", () => {
    const a = retryDelayMs({ retryDelayMs: 10_000, exponential: true, tryNumber: 3, seed: "ti-42" });
    expect(retryDelayMs({ retryDelayMs: 10_000, exponential: true, tryNumber: 3, seed: "ti-42" })).toBe(a);
  });

  it("grows with every try", () => {
    const at = (tryNumber: number) => retryDelayMs({ retryDelayMs: 1_000, exponential: true, tryNumber, seed: "s" });
    for (let n = 1; n < 12; n++) expect(at(n + 1)).toBeGreaterThan(at(n));
  });

  it("waits at least one second even for a zero or sub-second retryDelay", () => {
    expect(retryDelayMs({ retryDelayMs: 0, exponential: true, tryNumber: 1, seed: "s" })).toBe(1_000);
    expect(retryDelayMs({ retryDelayMs: 400, exponential: true, tryNumber: 1, seed: "s" })).toBe(1_000);
  });

  it("is capped by maxRetryDelay", () => {
    for (const seed of SEEDS) expect(retryDelayMs({ retryDelayMs: 10_000, exponential: true, maxRetryDelayMs: 60_000, tryNumber: 8, seed })).toBe(60_000);
    // Below the cap the cap changes nothing.
    const free = retryDelayMs({ retryDelayMs: 10_000, exponential: true, tryNumber: 1, seed: "s" });
    expect(retryDelayMs({ retryDelayMs: 10_000, exponential: true, maxRetryDelayMs: 60_000, tryNumber: 1, seed: "s" })).toBe(free);
  });

  it("is capped at 24 hours, even after thousands of tries", () => {
    expect(MAX_EXPONENTIAL_RETRY_DELAY_MS).toBe(86_400_000);
    for (const tryNumber of [20, 60, 2000]) {
      expect(retryDelayMs({ retryDelayMs: 3_600_000, exponential: true, tryNumber, seed: "s" })).toBe(86_400_000);
    }
  });
});
