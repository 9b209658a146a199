// Loading and error states, shared by every page.
import type { ApiError } from "../api/client";

export function Loading({ what }: { what?: string }) {
  return (
    <p className="muted" role="status" aria-live="polite">
      Loading{what ? ` ${what}` : ""}…
    </p>
  );
}

export function ErrorState({ error, onRetry }: { error: ApiError | Error; onRetry?: () => void }) {
  const status = "status" in error ? (error as ApiError).status : 0;
  return (
    <div className="error" role="alert" data-testid="error-state">
      <strong>{status === 403 ? "Not allowed" : status === 404 ? "Not available" : "Something went wrong"}</strong>
      <span>{error.message}</span>
      {onRetry && (
        <button type="button" onClick={onRetry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return <p className="muted">{children}</p>;
}
