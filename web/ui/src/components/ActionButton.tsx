// A button that runs an API call, shows it is busy and reports the API's error next to itself.
import { useState } from "react";

export function ActionButton({ label, onRun, className, testId }: { label: string; onRun: () => Promise<unknown>; className?: string; testId?: string }) {
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  return (
    <span className="action">
      <button
        type="button"
        className={className}
        data-testid={testId}
        disabled={busy}
        onClick={async () => {
          setBusy(true);
          setError(null);
          try {
            await onRun();
          } catch (e) {
            setError((e as Error).message);
          } finally {
            setBusy(false);
          }
        }}
      >
        {busy ? "…" : label}
      </button>
      {error && (
        <span className="error inline-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}
