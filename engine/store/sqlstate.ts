// Which database errors are worth retrying, decided in one table of SQLSTATE codes (CONVENTIONS:
// not in scattered catch blocks). Retryable: the same statement can succeed if simply run again —
// a lost lock race, a restarting server, a dropped connection. Everything else is fatal to the call.

const RETRYABLE_SQLSTATES: Record<string, string> = {
  "40001": "serialization_failure",
  "40P01": "deadlock_detected",
  "55P03": "lock_not_available",
  "57P01": "admin_shutdown",
  "57P02": "crash_shutdown",
  "57P03": "cannot_connect_now",
  "53300": "too_many_connections",
  "08000": "connection_exception",
  "08003": "connection_does_not_exist",
  "08006": "connection_failure",
  "08001": "sqlclient_unable_to_establish_sqlconnection",
  "08004": "sqlserver_rejected_establishment_of_sqlconnection",
};

/** Node-level failures of the connection itself (no SQLSTATE): the server went away. */
const RETRYABLE_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH"]);
const RETRYABLE_MESSAGES = [/Connection terminated/i, /connection is closed/i, /Client has encountered a connection error/i];

export function isRetryableDbError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && (e.code in RETRYABLE_SQLSTATES || RETRYABLE_NODE_CODES.has(e.code))) return true;
  return RETRYABLE_MESSAGES.some((re) => re.test(e.message ?? ""));
}

/**
 * Runs `fn` again on retryable database errors, with jittered exponential backoff (full jitter),
 * up to `attempts` times; other errors and the last failure are thrown.
 */
export async function withDbRetry<T>(
  fn: () => Promise<T>,
  options: { attempts?: number; baseMs?: number; maxMs?: number; retryable?: (err: unknown) => boolean } = {},
): Promise<T> {
  const attempts = options.attempts ?? 8;
  const base = options.baseMs ?? 20;
  const max = options.maxMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || !(isRetryableDbError(err) || options.retryable?.(err))) throw err;
      const delay = Math.random() * Math.min(max, base * 2 ** attempt);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}
