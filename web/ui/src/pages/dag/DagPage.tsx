// One DAG: header with its actions, and tabs (grid, graph, gantt, runs, code, details) whose
// choice is in the URL (/dags/:dagId/:tab).
import { useState } from "react";
import { Link, NavLink, useParams } from "react-router-dom";
import { api, enc } from "../../api/client";
import type { Dag } from "../../api/types";
import { useApi } from "../../api/useApi";
import { useCan } from "../../components/SessionContext";
import { ErrorState, Loading } from "../../components/Status";
import { CodeTab } from "./CodeTab";
import { DetailsTab } from "./DetailsTab";
import { GanttTab } from "./GanttTab";
import { GraphTab } from "./GraphTab";
import { GridTab } from "./GridTab";
import { RunsTab } from "./RunsTab";
import { MetricsChart } from "../../components/RunMetrics";

const TABS = ["grid", "graph", "gantt", "runs", "metrics", "code", "details"] as const;

export function DagPage() {
  const { dagId = "", tab = "grid" } = useParams();
  const dag = useApi<Dag>(`/api/v2/dags/${enc(dagId)}`);
  const canOperate = useCan("operator");
  const [actionError, setActionError] = useState<string | null>(null);

  const togglePause = async () => {
    if (!dag.data) return;
    setActionError(null);
    try {
      await api(`/api/v2/dags/${enc(dagId)}`, { method: "PATCH", body: { is_paused: !dag.data.is_paused } });
      dag.reload();
    } catch (e) {
      setActionError((e as Error).message);
    }
  };

  return (
    <section>
      <div className="page-head">
        <h1>
          <Link to="/dags" className="muted">
            DAGs
          </Link>{" "}
          / <span data-testid="dag-title">{dagId}</span>
        </h1>
        {dag.data && <span className={`badge ${dag.data.is_paused ? "state-paused" : "state-running"}`}>{dag.data.is_paused ? "paused" : "active"}</span>}
        <span className="spacer" />
        {canOperate && dag.data && (
          <div className="actions" data-testid="dag-actions">
            <button type="button" onClick={() => void togglePause()}>
              {dag.data.is_paused ? "Unpause" : "Pause"}
            </button>
            <Link className="button primary" to={`/dags/${enc(dagId)}/trigger`}>
              ▶ Trigger
            </Link>
            <Link className="button" to={`/dags/${enc(dagId)}/backfill`}>
              Backfill
            </Link>
          </div>
        )}
      </div>
      {actionError && <ErrorState error={new Error(actionError)} />}
      {dag.error && <ErrorState error={dag.error} onRetry={dag.reload} />}
      {dag.loading && !dag.data && <Loading what="DAG" />}
      {dag.data && (
        <>
          {dag.data.description && <p className="muted">{dag.data.description}</p>}
          <nav className="tabs" role="tablist" aria-label="DAG views">
            {TABS.map((t) => (
              <NavLink key={t} role="tab" aria-selected={t === tab} to={`/dags/${enc(dagId)}/${t}`} className={t === tab ? "active" : ""}>
                {t[0]!.toUpperCase() + t.slice(1)}
              </NavLink>
            ))}
          </nav>
          <div role="tabpanel">
            {tab === "grid" && <GridTab dagId={dagId} />}
            {tab === "graph" && <GraphTab dagId={dagId} />}
            {tab === "gantt" && <GanttTab dagId={dagId} />}
            {tab === "runs" && <RunsTab dagId={dagId} />}
            {tab === "metrics" && <MetricsChart dagId={dagId} />}
            {tab === "code" && <CodeTab dagId={dagId} />}
            {tab === "details" && <DetailsTab dagId={dagId} dag={dag.data} />}
          </div>
        </>
      )}
    </section>
  );
}
