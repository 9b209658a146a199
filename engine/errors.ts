// A small typed error hierarchy (Temporal's failure.ts): a code, an HTTP status for the API, and
// whether retrying may help. Unknown throws are normalised once, at the boundary, by toUpdraftError.

export class UpdraftError extends Error {
  constructor(
    message: string,
    readonly code: string,
    readonly status = 500,
    readonly retryable = false,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

export class NotFoundError extends UpdraftError {
  constructor(message: string) {
    super(message, "not_found", 404);
  }
}

export class ConflictError extends UpdraftError {
  constructor(message: string) {
    super(message, "conflict", 409);
  }
}

export class ValidationError extends UpdraftError {
  constructor(
    message: string,
    readonly field: (string | number)[] = [],
  ) {
    super(message, "validation", 422);
  }
}

export class AuthError extends UpdraftError {
  constructor(message: string, status: 401 | 403 = 401) {
    super(message, status === 401 ? "unauthenticated" : "forbidden", status);
  }
}

/** A fenced write touched no row: another process moved the TI first. The caller drops its write. */
export class LostLeaseError extends UpdraftError {
  constructor(message: string) {
    super(message, "lost_lease", 409);
  }
}

export function toUpdraftError(err: unknown): UpdraftError {
  if (err instanceof UpdraftError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new UpdraftError(message, "internal", 500);
}
