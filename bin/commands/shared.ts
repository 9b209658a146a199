import { UpdraftError } from "../../engine/errors.js";

/** Parses a `--conf` argument: a JSON object, or a clear error. */
export function parseConf(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new UpdraftError(`--conf is not valid JSON: ${(err as Error).message}`, "usage", 2);
  }
  if (typeof value !== "object" || value === null || Array.isArray(value)) throw new UpdraftError(`--conf must be a JSON object`, "usage", 2);
  return value as Record<string, unknown>;
}

export function parseDate(text: string | undefined, flag: string): Date | undefined {
  if (text === undefined) return undefined;
  const d = new Date(text);
  if (Number.isNaN(d.getTime())) throw new UpdraftError(`${flag} ${JSON.stringify(text)} is not a date (use ISO 8601, e.g. 2024-01-31 or 2024-01-31T06:00:00Z)`, "usage", 2);
  return d;
}
