import type { Duration } from "../authoring/types.js";

const UNIT_MS = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/;

/** `"500ms"`, `"30s"`, `"5m"`, `"1h"`, `"1d"` or milliseconds → milliseconds. Throws a clear error otherwise. */
export function parseDuration(value: Duration, field = "duration"): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value) || value < 0) throw new Error(`${field}: ${value} is not a non-negative number of milliseconds`);
    return value;
  }
  const match = typeof value === "string" ? DURATION.exec(value.trim()) : null;
  if (!match) throw new Error(`${field}: ${JSON.stringify(value)} is not a duration like "500ms", "30s", "5m", "1h" or "1d"`);
  return Math.round(Number(match[1]) * UNIT_MS[match[2] as keyof typeof UNIT_MS]);
}
