// One run: state, dates, conf, its TIs (live) and the run's actions.
import { useState } from "react";
import { Link, useParams } from "react-router-dom";
import { enc } from "../api/client";
import { useLive } from "../api/live";
import type { DagRun } from "../api/types";
import { useApi } from "../api/useApi";
import { fmtDate, fmtDuration } from "../components/format";
import { JsonView } from "../components/JsonView";
import { RunMetrics } from "../components/RunMetrics";
import { useCan } from "../components/SessionContext";
import { StateBadge } from "../components/StateBadge";
import { ErrorState, Loading } from "../components/Status";
import { ClearPanel } from "./actions/ClearPanel";
import { MarkButtons } from "./actions/MarkButtons";
import { useRunTis } from "./dag/useRunTis";

export function RunPage() {
  const { dagId = "", runId = "" } = useParams();
  const run = useApi<DagRun>(`/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}`);
  const { tis, error: tiError } = useRunTis(dagId, runId);
  const canOperate = useCan("operator");
  const [clearing, setClearing] = useState(false);
  useLive(dagId, { subscribed: run.reload, run: (e) => e.run_id === runId && run.reload() });

  return (
    <section>
      <h1>
        <Link to={`/dags/${enc(dagId)}/grid`} className="muted">
          {dagId}
        </Link>{" "}
        / run <span data-testid="run-id">{runId}</span> {run.data && <StateBadge state={run.data.state} />}
      </h1>
      {run.error && <ErrorState error={run.error} onRetry={run.reload} />}
      {run.loading && !run.data && <Loading what="run" />}
      {run.data && (
        <>
          {canOperate && (
            <div className="actions" data-testid="run-actions">
              <button type="button" onClick={() => setClearing((c) => !c)}>
                Clear run…
              </button>
              <MarkButtons dagId={dagId} runId={runId} onDone={run.reload} />
            </div>
          )}
          {clearing && <ClearPanel dagId={dagId} runId={runId} onDone={() => { setClearing(false); run.reload(); }} />}
          <dl className="props">
            <dt>Type</dt>
            <dd>{run.data.run_type}</dd>
            <dt>Logical date</dt>
            <dd>{fmtDate(run.data.logical_date)}</dd>
            <dt>Data interval</dt>
            <dd>
              {fmtDate(run.data.data_interval_start)} → {fmtDate(run.data.data_interval_end)}
            </dd>
            <dt>Queued / started / ended</dt>
            <dd>
              {fmtDate(run.data.queued_at)} / {fmtDate(run.data.start_date)} / {fmtDate(run.data.end_date)}
            </dd>
            <dt>Duration</dt>
            <dd>{fmtDuration(run.data.duration)}</dd>
            <dt>Triggered by</dt>
            <dd>{run.data.triggering_user_name ?? run.data.triggered_by ?? "—"}</dd>
            <dt>Version</dt>
            <dd>v{run.data.dag_versions[0]?.version_number}</dd>
            <dt>Note</dt>
            <dd>{run.data.note ?? "—"}</dd>
          </dl>
          <h2>Conf</h2>
          <JsonView value={run.data.conf ?? {}} label="conf" />
          <RunMetrics dagId={dagId} runId={runId} />
        </>
      )}
      <h2>Task instances</h2>
      {tiError && <ErrorState error={tiError} />}
      <table className="table" data-testid="run-tis">
        <thead>
          <tr>
            <th>Task</th>
            <th>State</th>
            <th>Try</th>
            <th>Started</th>
            <th>Duration</th>
          </tr>
        </thead>
        <tbody>
          {tis.map((t) => (
            <tr key={`${t.task_id}/${t.map_index}`}>
              <td>
                <Link to={`/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(t.task_id)}`}>{t.task_id}</Link>
              </td>
              <td>
                <StateBadge state={t.state} />
              </td>
              <td>{t.try_number}</td>
              <td>{fmtDate(t.start_date)}</td>
              <td>{fmtDuration(t.duration)}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
