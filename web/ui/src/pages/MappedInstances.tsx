// A mapped task's TIs in one run (d.map: one per item), as links to each on the task-instance page
// with its state; the current one marked. Read from the TI list filtered by task, in map order.
import { Link } from "react-router-dom";
import { enc, qs } from "../api/client";
import type { TaskInstance } from "../api/types";
import { useApi } from "../api/useApi";
import { stateClass } from "../components/StateBadge";
import { ErrorState } from "../components/Status";

/** More would not be read on a page of links; the grid's tooltip has the counts of all. */
const LIMIT = 100;

export function MappedInstances({ dagId, runId, taskId, current }: { dagId: string; runId: string; taskId: string; current: number }) {
  const list = useApi<{ task_instances: TaskInstance[]; total_entries: number }>(
    `/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances${qs({ task_id: taskId, order_by: "map_index", limit: LIMIT })}`,
  );
  if (list.error) return <ErrorState error={list.error} onRetry={list.reload} />;
  if (!list.data) return null;
  const mapped = list.data.task_instances.filter((t) => t.map_index >= 0);
  return (
    <nav className="mapped-instances" aria-label="mapped instances" data-testid="mapped-instances">
      <span className="muted small">Mapped instances ({list.data.total_entries}):</span>
      {mapped.map((t) => (
        <Link
          key={t.map_index}
          to={`/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(taskId)}?map_index=${t.map_index}`}
          className={`map-chip ${stateClass(t.state)}${t.map_index === current ? " current" : ""}`}
          aria-current={t.map_index === current ? "page" : undefined}
          title={`[${t.map_index}] ${t.state ?? "none"}`}
        >
          {t.map_index}
        </Link>
      ))}
    </nav>
  );
}
