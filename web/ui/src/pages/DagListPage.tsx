// The DAG list: search, tag filter, paused filter and toggle, schedule and next run, the last
// runs as coloured dots with counts by state, an import-errors banner. Paging is server-side and
// every filter is in the URL.
import { useMemo, useState } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { api, enc, qs } from "../api/client";
import type { Dag } from "../api/types";
import { useApi } from "../api/useApi";
import { fmtDate } from "../components/format";
import { Pager } from "../components/Pager";
import { useCan } from "../components/SessionContext";
import { StateDot } from "../components/StateBadge";
import { Empty, ErrorState, Loading } from "../components/Status";

const LIMIT = 25;

interface Summary {
  dags: Record<string, { timezone: string; recent: { dag_run_id: string; state: string; run_after: string | null }[]; counts: Record<string, number> }>;
}

export function DagListPage() {
  const [params, setParams] = useSearchParams();
  const search = params.get("search") ?? "";
  const tag = params.get("tag") ?? "";
  const paused = params.get("paused") ?? "";
  const offset = Number(params.get("offset") ?? 0) || 0;
  const canOperate = useCan("operator");
  const [toggleError, setToggleError] = useState<string | null>(null);

  const dags = useApi<{ dags: Dag[]; total_entries: number }>(
    `/api/v2/dags${qs({ limit: LIMIT, offset, dag_id_pattern: search ? `%${search}%` : undefined, tags: tag || undefined, paused: paused || undefined })}`,
  );
  const ids = useMemo(() => dags.data?.dags.map((d) => d.dag_id) ?? [], [dags.data]);
  const summary = useApi<Summary>(ids.length ? `/ui/dag_runs_summary${qs({ dag_ids: ids })}` : null);
  const importErrors = useApi<{ total_entries: number }>(`/api/v2/importErrors?limit=1`);

  const set = (key: string, value: string) => {
    const next = new URLSearchParams(params);
    if (value) next.set(key, value);
    else next.delete(key);
    if (key !== "offset") next.delete("offset");
    setParams(next);
  };

  const togglePause = async (dag: Dag) => {
    setToggleError(null);
    try {
      await api(`/api/v2/dags/${enc(dag.dag_id)}`, { method: "PATCH", body: { is_paused: !dag.is_paused } });
      dags.reload();
    } catch (e) {
      setToggleError((e as Error).message);
    }
  };

  return (
    <section>
      <h1>DAGs</h1>
      {importErrors.data && importErrors.data.total_entries > 0 && (
        <div className="banner" role="alert" data-testid="import-errors-banner">
          {importErrors.data.total_entries} DAG file{importErrors.data.total_entries === 1 ? "" : "s"} failed to import. <Link to="/importErrors">See the import errors</Link>
        </div>
      )}
      <div className="filters" role="search">
        <input aria-label="Search DAGs" placeholder="Search DAGs…" value={search} onChange={(e) => set("search", e.target.value)} />
        <input aria-label="Filter by tag" placeholder="Tag" value={tag} onChange={(e) => set("tag", e.target.value)} />
        <select aria-label="Paused filter" value={paused} onChange={(e) => set("paused", e.target.value)}>
          <option value="">All</option>
          <option value="false">Active</option>
          <option value="true">Paused</option>
        </select>
      </div>
      {toggleError && <ErrorState error={new Error(toggleError)} />}
      {dags.error && <ErrorState error={dags.error} onRetry={dags.reload} />}
      {dags.loading && !dags.data && <Loading what="DAGs" />}
      {dags.data && dags.data.dags.length === 0 && <Empty>No DAGs match.</Empty>}
      {dags.data && dags.data.dags.length > 0 && (
        <table className="table" data-testid="dag-table">
          <thead>
            <tr>
              <th>Active</th>
              <th>DAG</th>
              <th>Schedule</th>
              <th>Next run</th>
              <th>Last runs</th>
              <th>Runs by state</th>
            </tr>
          </thead>
          <tbody>
            {dags.data.dags.map((dag) => {
              const s = summary.data?.dags[dag.dag_id];
              return (
                <tr key={dag.dag_id} data-dag-id={dag.dag_id}>
                  <td>
                    {canOperate ? (
                      <label className="switch">
                        <input type="checkbox" role="switch" checked={!dag.is_paused} onChange={() => void togglePause(dag)} aria-label={`${dag.is_paused ? "Unpause" : "Pause"} ${dag.dag_id}`} />
                        <span>{dag.is_paused ? "paused" : "on"}</span>
                      </label>
                    ) : (
                      <span className="muted">{dag.is_paused ? "paused" : "on"}</span>
                    )}
                  </td>
                  <td>
                    <Link to={`/dags/${enc(dag.dag_id)}/grid`} className="dag-link">
                      {dag.dag_id}
                    </Link>
                    {dag.has_import_errors && <span className="badge state-failed">import error</span>}
                    <div className="tags">
                      {dag.tags.map((t) => (
                        <button key={t.name} type="button" className="tag" onClick={() => set("tag", t.name)}>
                          {t.name}
                        </button>
                      ))}
                    </div>
                    {dag.description && <div className="muted small">{dag.description}</div>}
                  </td>
                  <td>
                    <code>{dag.timetable_summary ?? "manual"}</code>
                  </td>
                  <td>{fmtDate(dag.next_dagrun_run_after, s?.timezone)}</td>
                  <td>
                    <span className="dots">
                      {s?.recent.map((r) => (
                        <Link key={r.dag_run_id} to={`/dags/${enc(dag.dag_id)}/runs/${enc(r.dag_run_id)}`} aria-label={`run ${r.dag_run_id}: ${r.state}`}>
                          <StateDot state={r.state} title={`${r.dag_run_id}: ${r.state}`} />
                        </Link>
                      ))}
                    </span>
                  </td>
                  <td className="small">
                    {s &&
                      Object.entries(s.counts).map(([state, n]) => (
                        <span key={state} className="count">
                          <StateDot state={state} /> {n}
                        </span>
                      ))}
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      )}
      {dags.data && <Pager offset={offset} limit={LIMIT} total={dags.data.total_entries} onChange={(o) => set("offset", String(o))} />}
    </section>
  );
}
