// The TIs of one run (the latest when none is chosen), kept current by live events.
import { useEffect, useState } from "react";
import { enc } from "../../api/client";
import { useLive } from "../../api/live";
import type { DagRun, TaskInstance } from "../../api/types";
import { useApi } from "../../api/useApi";

export function useLatestRunId(dagId: string, chosen: string | null): { runId: string | null; runs: DagRun[]; error: Error | null; loading: boolean } {
  const runs = useApi<{ dag_runs: DagRun[] }>(`/api/v2/dags/${enc(dagId)}/dagRuns?limit=25&order_by=-run_after`);
  const list = runs.data?.dag_runs ?? [];
  return { runId: chosen ?? list[0]?.dag_run_id ?? null, runs: list, error: runs.error, loading: runs.loading };
}

export function useRunTis(dagId: string, runId: string | null) {
  const tis = useApi<{ task_instances: TaskInstance[]; total_entries: number }>(runId ? `/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances?limit=100` : null);
  const [list, setList] = useState<TaskInstance[]>([]);
  useEffect(() => setList(tis.data?.task_instances ?? []), [tis.data]);
  const { reload } = tis;
  useLive(dagId, {
    subscribed: reload,
    ti: (e) => {
      if (e.run_id !== runId) return;
      // Dates change with the state: fetch the run's TIs again (one request; events are batched).
      setList((prev) => prev.map((t) => (t.task_id === e.task_id && t.map_index === e.map_index ? { ...t, state: e.state, try_number: e.try_number } : t)));
      reload();
    },
  });
  return { tis: list, total: tis.data?.total_entries ?? 0, error: tis.error, loading: tis.loading };
}
