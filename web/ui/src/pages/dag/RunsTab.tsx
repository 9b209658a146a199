// Runs table: state and type filters, newest first, paged server-side; filters in the URL.
import { Link, useSearchParams } from "react-router-dom";
import { enc, qs } from "../../api/client";
import type { DagRun } from "../../api/types";
import { useApi } from "../../api/useApi";
import { fmtDate, fmtDuration } from "../../components/format";
import { Pager } from "../../components/Pager";
import { StateBadge } from "../../components/StateBadge";
import { Empty, ErrorState, Loading } from "../../components/Status";

const LIMIT = 25;

export function RunsTab({ dagId }: { dagId: string }) {
  const [params, setParams] = useSearchParams();
  const state = params.get("state") ?? "";
  const runType = params.get("run_type") ?? "";
  const offset = Number(params.get("offset") ?? 0) || 0;
  const runs = useApi<{ dag_runs: DagRun[]; total_entries: number }>(
    `/api/v2/dags/${enc(dagId)}/dagRuns${qs({ limit: LIMIT, offset, order_by: "-run_after", state: state || undefined, run_type: runType || undefined })}`,
  );
  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "offset") next.delete("offset");
    setParams(next);
  };
  return (
    <div>
      <div className="filters">
        <select aria-label="Run state" value={state} onChange={(e) => set("state", e.target.value)}>
          <option value="">Any state</option>
          {["queued", "running", "success", "failed"].map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select aria-label="Run type" value={runType} onChange={(e) => set("run_type", e.target.value)}>
          <option value="">Any type</option>
          {["manual", "scheduled", "backfill", "asset_triggered"].map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </div>
      {runs.error && <ErrorState error={runs.error} onRetry={runs.reload} />}
      {runs.loading && !runs.data && <Loading what="runs" />}
      {runs.data?.dag_runs.length === 0 && <Empty>No runs match.</Empty>}
      {runs.data && runs.data.dag_runs.length > 0 && (
        <table className="table" data-testid="runs-table">
          <thead>
            <tr>
              <th>Run</th>
              <th>State</th>
              <th>Type</th>
              <th>Logical date</th>
              <th>Started</th>
              <th>Duration</th>
              <th>By</th>
            </tr>
          </thead>
          <tbody>
            {runs.data.dag_runs.map((r) => (
              <tr key={r.dag_run_id}>
                <td>
                  <Link to={`/dags/${enc(dagId)}/runs/${enc(r.dag_run_id)}`}>{r.dag_run_id}</Link>
                </td>
                <td>
                  <StateBadge state={r.state} />
                </td>
                <td>{r.run_type}</td>
                <td>{fmtDate(r.logical_date)}</td>
                <td>{fmtDate(r.start_date)}</td>
                <td>{fmtDuration(r.duration)}</td>
                <td>{r.triggering_user_name ?? r.triggered_by ?? "—"}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {runs.data && <Pager offset={offset} limit={LIMIT} total={runs.data.total_entries} onChange={(o) => set("offset", String(o))} />}
    </div>
  );
}
