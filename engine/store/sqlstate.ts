// Which database errors are worth retrying, decided in one table of SQLSTATE codes (CONVENTIONS:
// not in scattered catch blocks). Retryable: the same statement can succeed if simply run again —
// a lost lock race, a restarting server, a dropped connection. Everything else is fatal to the call.

const RETRYABLE_SQLSTATES: Record<string, string> = {
  "40001": "serialization_failure",
  "40P01": "deadlock_detected",
  "55P03": "lock_not_available",
  // statement_timeout (db.ts): a lock wait or an overloaded server; Updraft never cancels its own
  // statements otherwise.
  "57014": "query_canceled",
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

/**
 * Node-level failures of the connection itself (no SQLSTATE): the server went away, or is not up
 * yet. EAI_AGAIN is a temporary DNS failure (a container network coming up); ENOTFOUND is not
 * here: a host name that does not exist is a configuration error.
 */
const RETRYABLE_NODE_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "EPIPE", "ETIMEDOUT", "EHOSTUNREACH", "EAI_AGAIN"]);
// pg's timeouts (query_timeout, connectionTimeoutMillis) on a dead or half-open connection: the
// client was destroyed (db.ts), so running the statement again uses a fresh connection.
const RETRYABLE_MESSAGES = [/Connection terminated/i, /connection is closed/i, /Client has encountered a connection error/i, /Query read timeout/i, /timeout exceeded when trying to connect/i];

export function isRetryableDbError(err: unknown): boolean {
  const e = err as { code?: string; message?: string } | null;
  if (!e) return false;
  if (e.code && (e.code in RETRYABLE_SQLSTATES || RETRYABLE_NODE_CODES.has(e.code))) return true;
  return RETRYABLE_MESSAGES.some((re) => re.test(e.message ?? ""));
}

/**
 * Runs `fn` again on retryable database errors, with jittered exponential backoff (full jitter),
 * up to `attempts` times — or, with `forMs`, for as long as that many milliseconds (a server
 * restart takes seconds); other errors and the last failure are thrown.
 */
export async function withDbRetry<T>(
  fn: () => Promise<T>,
  options: {
    attempts?: number;
    forMs?: number;
    baseMs?: number;
    maxMs?: number;
    retryable?: (err: unknown) => boolean;
    /** Called before each wait, e.g. to log the attempt. */
    onRetry?: (err: unknown, attempt: number, delayMs: number) => void;
  } = {},
): Promise<T> {
  const attempts = options.forMs !== undefined ? Infinity : (options.attempts ?? 8);
  const deadline = options.forMs !== undefined ? Date.now() + options.forMs : Infinity;
  const base = options.baseMs ?? 20;
  const max = options.maxMs ?? 5_000;
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn();
    } catch (err) {
      if (attempt >= attempts || Date.now() >= deadline || !(isRetryableDbError(err) || options.retryable?.(err))) throw err;
      const delay = Math.random() * Math.min(max, base * 2 ** attempt);
      options.onRetry?.(err, attempt, delay);
      await new Promise((r) => setTimeout(r, delay));
    }
  }
}

/** 23505 unique_violation: the caller answers "already exists" (409), not a retry. */
export function isUniqueViolation(err: unknown): boolean {
  return (err as { code?: string } | null)?.code === "23505";
}

/**
 * Errors a request's own values cause — text PostgreSQL cannot hold (a NUL byte), a number or date
 * out of range, a key too long for its index. The API answers them 422: bad input, nothing stored.
 */
const INPUT_SQLSTATES: Record<string, string> = {
  "22021": "character_not_in_repertoire",
  "22P05": "untranslatable_character",
  "22P02": "invalid_text_representation",
  "22003": "numeric_value_out_of_range",
  "22008": "datetime_field_overflow",
  "22007": "invalid_datetime_format",
  "22001": "string_data_right_truncation",
  "22025": "invalid_escape_sequence",
  "2201B": "invalid_regular_expression",
  "54000": "program_limit_exceeded",
};

export function isInputDbError(err: unknown): boolean {
  const code = (err as { code?: string } | null)?.code;
  return typeof code === "string" && code in INPUT_SQLSTATES;
}
