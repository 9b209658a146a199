/**
 * Delay before retry `tryNumber + 1`, as Airflow's TaskInstance.next_retry_datetime: with
 * exponential backoff, `retryDelay * 2^(try-1)` with a deterministic jitter in its upper half,
 * capped by `maxRetryDelay` (and by 24 h, as Airflow caps it).
 */
export function retryDelayMs(opts: { retryDelayMs: number; exponential: boolean; maxRetryDelayMs?: number | null; tryNumber: number; seed?: string }): number {
  const cap = Math.min(opts.maxRetryDelayMs ?? Number.POSITIVE_INFINITY, 86_400_000);
  if (!opts.exponential) return Math.min(opts.retryDelayMs, cap);
  const base = Math.max(1, Math.floor(opts.retryDelayMs / 1000));
  const minBackoff = Math.floor(base * 2 ** (opts.tryNumber - 2));
  const modded = hash(`${opts.seed ?? ""}#${opts.tryNumber}`) % Math.max(1, minBackoff);
  const seconds = opts.tryNumber < 2 ? base : minBackoff + modded;
  return Math.min(seconds * 1000, cap);
}

function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}
