// Chooses the run a graph or Gantt shows; the choice is the `run` query parameter.
import { useSearchParams } from "react-router-dom";
import type { DagRun } from "../../api/types";

export function RunPicker({ runs, runId }: { runs: DagRun[]; runId: string | null }) {
  const [params, setParams] = useSearchParams();
  if (!runs.length) return null;
  return (
    <label className="inline">
      Run{" "}
      <select
        value={runId ?? ""}
        onChange={(e) => {
          const next = new URLSearchParams(params);
          next.set("run", e.target.value);
          setParams(next);
        }}
      >
        {runs.map((r) => (
          <option key={r.dag_run_id} value={r.dag_run_id}>
            {r.dag_run_id} ({r.state})
          </option>
        ))}
      </select>
    </label>
  );
}
