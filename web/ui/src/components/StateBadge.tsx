// A TI or run state as a coloured chip or dot; colours come from the theme's --state-* variables.
export const STATE_LABELS: Record<string, string> = {
  none: "no status",
};

export function stateClass(state: string | null | undefined): string {
  return `state-${state ?? "none"}`;
}

export function StateBadge({ state }: { state: string | null | undefined }) {
  return (
    <span className={`badge ${stateClass(state)}`} data-state={state ?? "none"}>
      {state ? state.replace(/_/g, " ") : "no status"}
    </span>
  );
}

export function StateDot({ state, title }: { state: string | null | undefined; title?: string }) {
  return <span className={`dot ${stateClass(state)}`} data-state={state ?? "none"} title={title ?? state ?? "no status"} aria-label={title ?? state ?? "no status"} />;
}
