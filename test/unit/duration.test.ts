import { describe, expect, it } from "vitest";
import { parseDuration } from "../../engine/semantics/duration.js";
import type { Duration } from "../../engine/authoring/types.js";

describe("parseDuration", () => {
  it.each([
    ["500ms", 500],
    ["30s", 30_000],
    ["5m", 300_000],
    ["1h", 3_600_000],
    ["1d", 86_400_000],
    ["1.5s", 1_500],
    ["0.5m", 30_000],
    ["0s", 0],
    [" 10s ", 10_000],
    [0, 0],
    [250, 250],
    [1.5, 1.5],
  ] as [Duration, number][])("%j → %i ms", (input, ms) => {
    expect(parseDuration(input)).toBe(ms);
  });

  it.each(["", "5", "5x", "s", "1 h", "-5s", "1h30m", "5 minutes", "1e3ms", "ms"])("rejects %j, naming the field and the accepted forms", (input) => {
    expect(() => parseDuration(input as Duration, "retryDelay")).toThrow(/^retryDelay: .* is not a duration like "500ms", "30s", "5m", "1h" or "1d"$/);
  });

  it.each([-1, Number.NaN, Number.POSITIVE_INFINITY])("rejects the number %d", (input) => {
    expect(() => parseDuration(input, "timeout")).toThrow(/^timeout: .* is not a non-negative number of milliseconds$/);
  });

  it("rejects values that are neither strings nor numbers", () => {
    expect(() => parseDuration(null as unknown as Duration)).toThrow(/is not a duration/);
    expect(() => parseDuration({} as unknown as Duration)).toThrow(/is not a duration/);
  });
});
