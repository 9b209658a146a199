/** Airflow's cap on an exponential backoff (MAX_RETRY_DELAY): 24 hours. */
export const MAX_EXPONENTIAL_RETRY_DELAY_MS = 86_400_000;

/**
 * Delay before the retry that follows the failed try `tryNumber` (1-based), as Airflow's
 * TaskInstance.next_retry_datetime computes it:
 * - without exponential backoff, `retryDelay` exactly (Airflow applies no cap there);
 * - with it, `min = max(1, ceil(retryDelay_s * 2^(tryNumber-1)))` seconds and a deterministic
 *   per-try jitter in `[min, 2·min)`, capped at 24 h and then at `maxRetryDelay`. So the wait after
 *   try 1 is in [d, 2d), after try 2 in [2d, 4d), after try n in [d·2^(n-1), d·2^n).
 */
export function retryDelayMs(opts: { retryDelayMs: number; exponential: boolean; maxRetryDelayMs?: number | null; tryNumber: number; seed?: string }): number {
  if (!opts.exponential) return opts.retryDelayMs;
  const minBackoff = Math.max(1, Math.ceil((opts.retryDelayMs / 1000) * 2 ** (opts.tryNumber - 1)));
  // Past ~2^53 the modulo below loses meaning; the 24 h cap makes any such value moot anyway.
  const jittered = Number.isSafeInteger(minBackoff) ? minBackoff + (hash(`${opts.seed ?? ""}#${opts.tryNumber}`) % minBackoff) : minBackoff;
  const ms = Math.min(jittered * 1000, MAX_EXPONENTIAL_RETRY_DELAY_MS);
  return opts.maxRetryDelayMs ? Math.min(ms, opts.maxRetryDelayMs) : ms;
}

/** FNV-1a: deterministic per TI and try, like Airflow's sha1 of the TI key (the exact hash is not part of the contract). */
function hash(s: string): number {
  let h = 2166136261;
  for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619) >>> 0;
  return h;
}
