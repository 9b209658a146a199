// Clear task instances (POST /dags/{id}/clearTaskInstances): options, a dry run listing the TIs
// that would be cleared, then the real clear. For a whole run: POST …/dagRuns/{run}/clear.
import { useState } from "react";
import { api, enc } from "../../api/client";
import type { TaskInstance } from "../../api/types";
import { StateBadge } from "../../components/StateBadge";
import { ErrorState } from "../../components/Status";

export function ClearPanel({ dagId, runId, taskId, onDone }: { dagId: string; runId: string; taskId?: string; onDone: () => void }) {
  const [downstream, setDownstream] = useState(true);
  const [upstream, setUpstream] = useState(false);
  const [onlyFailed, setOnlyFailed] = useState(false);
  const [preview, setPreview] = useState<TaskInstance[] | null>(null);
  const [error, setError] = useState<Error | null>(null);
  const [busy, setBusy] = useState(false);

  const call = (dryRun: boolean) =>
    taskId
      ? api<{ task_instances: TaskInstance[] }>(`/api/v2/dags/${enc(dagId)}/clearTaskInstances`, {
          method: "POST",
          body: { dry_run: dryRun, dag_run_id: runId, task_ids: [taskId], include_downstream: downstream, include_upstream: upstream, only_failed: onlyFailed, reset_dag_runs: true },
        })
      : api<{ task_instances?: TaskInstance[] }>(`/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/clear`, { method: "POST", body: { dry_run: dryRun, only_failed: onlyFailed } });

  const run = async (dryRun: boolean) => {
    setBusy(true);
    setError(null);
    try {
      const res = await call(dryRun);
      if (dryRun) setPreview(res.task_instances ?? []);
      else {
        setPreview(null);
        onDone();
      }
    } catch (e) {
      setError(e as Error);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="card" data-testid="clear-panel">
      <h3>Clear {taskId ? `task ${taskId}` : "run"}</h3>
      {taskId && (
        <>
          <label className="check">
            <input type="checkbox" checked={downstream} onChange={(e) => setDownstream(e.target.checked)} /> with downstream
          </label>
          <label className="check">
            <input type="checkbox" checked={upstream} onChange={(e) => setUpstream(e.target.checked)} /> with upstream
          </label>
        </>
      )}
      <label className="check">
        <input type="checkbox" checked={onlyFailed} onChange={(e) => setOnlyFailed(e.target.checked)} /> only failed
      </label>
      <div className="row">
        <button type="button" disabled={busy} onClick={() => void run(true)}>
          Preview
        </button>
        {preview && (
          <button type="button" className="danger" disabled={busy} onClick={() => void run(false)} data-testid="confirm-clear">
            Clear {preview.length} task instance{preview.length === 1 ? "" : "s"}
          </button>
        )}
      </div>
      {error && <ErrorState error={error} />}
      {preview && (
        <ul className="preview" data-testid="clear-preview">
          {preview.map((t) => (
            <li key={`${t.dag_run_id}/${t.task_id}/${t.map_index}`}>
              <code>{t.task_id}</code> in {t.dag_run_id} <StateBadge state={t.state} />
            </li>
          ))}
          {preview.length === 0 && <li className="muted">Nothing to clear.</li>}
        </ul>
      )}
    </div>
  );
}
