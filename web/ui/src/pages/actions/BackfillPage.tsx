// Backfill: a date range and options, a dry run listing the logical dates it would run, then the
// real backfill; below, the DAG's backfills with progress and pause / unpause / cancel.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { api, ApiError, enc } from "../../api/client";
import type { Backfill, DagRun } from "../../api/types";
import { useApi } from "../../api/useApi";
import { ActionButton } from "../../components/ActionButton";
import { fmtDate } from "../../components/format";
import { useCan } from "../../components/SessionContext";
import { StateDot } from "../../components/StateBadge";
import { ErrorState, Loading } from "../../components/Status";

export function BackfillPage() {
  const { dagId = "" } = useParams();
  const canOperate = useCan("operator");
  const [from, setFrom] = useState("");
  const [to, setTo] = useState("");
  const [maxActive, setMaxActive] = useState("10");
  const [reprocess, setReprocess] = useState("none");
  const [backwards, setBackwards] = useState(false);
  const [preview, setPreview] = useState<string[] | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const backfills = useApi<{ backfills: Backfill[] }>(`/api/v2/backfills?dag_id=${enc(dagId)}&limit=20&order_by=-id`);
  const runs = useApi<{ dag_runs: DagRun[]; total_entries: number }>(`/api/v2/dags/${enc(dagId)}/dagRuns?run_type=backfill&limit=100&order_by=-run_after`);

  if (!canOperate) return <ErrorState error={new ApiError(403, "Backfilling needs the operator role.")} />;

  const body = () => ({
    dag_id: dagId,
    from_date: new Date(from).toISOString(),
    to_date: new Date(to).toISOString(),
    run_backwards: backwards,
    reprocess_behavior: reprocess,
    max_active_runs: Number(maxActive),
  });
  const dryRun = async (e: React.FormEvent) => {
    e.preventDefault();
    setError(null);
    try {
      const res = await api<{ backfills: { logical_date: string }[] }>("/api/v2/backfills/dry_run", { method: "POST", body: body() });
      setPreview(res.backfills.map((b) => b.logical_date));
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const create = async () => {
    setError(null);
    try {
      await api<Backfill>("/api/v2/backfills", { method: "POST", body: body() });
      setPreview(null);
      backfills.reload();
      runs.reload();
    } catch (err) {
      setError(err as ApiError);
    }
  };
  const counts: Record<string, number> = {};
  for (const r of runs.data?.dag_runs ?? []) counts[r.state] = (counts[r.state] ?? 0) + 1;

  return (
    <section>
      <h1>
        <Link to={`/dags/${enc(dagId)}/grid`} className="muted">
          {dagId}
        </Link>{" "}
        / backfill
      </h1>
      <form className="card form" onSubmit={dryRun} aria-label="backfill" data-testid="backfill-form">
        <div className="field">
          <label htmlFor="bf-from">From (logical date)</label>
          <input id="bf-from" type="datetime-local" required value={from} onChange={(e) => setFrom(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="bf-to">To</label>
          <input id="bf-to" type="datetime-local" required value={to} onChange={(e) => setTo(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="bf-max">Max active runs</label>
          <input id="bf-max" type="number" min={1} value={maxActive} onChange={(e) => setMaxActive(e.target.value)} />
        </div>
        <div className="field">
          <label htmlFor="bf-reprocess">Reprocess</label>
          <select id="bf-reprocess" value={reprocess} onChange={(e) => setReprocess(e.target.value)}>
            <option value="none">none (skip dates that have a run)</option>
            <option value="failed">failed runs</option>
            <option value="completed">all completed runs</option>
          </select>
        </div>
        <label className="check">
          <input type="checkbox" checked={backwards} onChange={(e) => setBackwards(e.target.checked)} /> newest first
        </label>
        {error && <ErrorState error={error} />}
        <button type="submit">Preview dates</button>
        {preview && (
          <div data-testid="backfill-preview">
            <p>
              {preview.length} run{preview.length === 1 ? "" : "s"} would be created:
            </p>
            <ul className="preview">
              {preview.map((d) => (
                <li key={d}>{fmtDate(d)}</li>
              ))}
            </ul>
            <button type="button" className="primary" disabled={preview.length === 0} onClick={() => void create()} data-testid="confirm-backfill">
              Run backfill
            </button>
          </div>
        )}
      </form>
      <h2>Backfills</h2>
      {backfills.error && <ErrorState error={backfills.error} onRetry={backfills.reload} />}
      {backfills.loading && !backfills.data && <Loading />}
      {runs.data && (
        <p data-testid="backfill-progress">
          Backfill runs: {runs.data.total_entries}{" "}
          {Object.entries(counts).map(([s, n]) => (
            <span key={s} className="count">
              <StateDot state={s} /> {s} {n}
            </span>
          ))}
        </p>
      )}
      <table className="table">
        <tbody>
          {backfills.data?.backfills.map((b) => (
            <tr key={b.id}>
              <td>#{b.id}</td>
              <td>
                {fmtDate(b.from_date)} → {fmtDate(b.to_date)}
              </td>
              <td>{b.completed_at ? `completed ${fmtDate(b.completed_at)}` : b.is_paused ? "paused" : "running"}</td>
              <td>
                {!b.completed_at && (
                  <>
                    <ActionButton label={b.is_paused ? "Unpause" : "Pause"} onRun={() => api(`/api/v2/backfills/${b.id}/${b.is_paused ? "unpause" : "pause"}`, { method: "PUT" }).then(backfills.reload)} />
                    <ActionButton label="Cancel" className="danger" onRun={() => api(`/api/v2/backfills/${b.id}/cancel`, { method: "PUT" }).then(backfills.reload)} />
                  </>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
