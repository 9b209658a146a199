// One task instance: state, dates, duration, why it waits, tries, XCom, the live log, actions.
// A mapped TI (d.map) is `?map_index=N`, with links to its siblings (MappedInstances).
import { useState } from "react";
import { Link, useParams, useSearchParams } from "react-router-dom";
import { enc } from "../api/client";
import { useLive } from "../api/live";
import type { TaskInstance } from "../api/types";
import { useApi } from "../api/useApi";
import { fmtDate, fmtDuration } from "../components/format";
import { JsonView } from "../components/JsonView";
import { LogView } from "../components/LogView";
import { useCan } from "../components/SessionContext";
import { StateBadge } from "../components/StateBadge";
import { ErrorState, Loading } from "../components/Status";
import { ClearPanel } from "./actions/ClearPanel";
import { MarkButtons } from "./actions/MarkButtons";
import { MappedInstances } from "./MappedInstances";

interface Tries {
  task_instances: { try_number: number; state: string | null; start_date: string | null; end_date: string | null; duration: number | null; hostname: string | null }[];
}
interface XComs {
  xcom_entries: { key: string; timestamp: string }[];
}

function XComValue({ path }: { path: string }) {
  const v = useApi<{ value: unknown }>(path);
  if (v.error) return <ErrorState error={v.error} />;
  return v.data ? <JsonView value={v.data.value} /> : <Loading />;
}

export function TaskInstancePage() {
  const { dagId = "", runId = "", taskId = "" } = useParams();
  const [params, setParams] = useSearchParams();
  const base = `/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances/${enc(taskId)}`;
  const mapIndex = /^\d+$/.test(params.get("map_index") ?? "") ? Number(params.get("map_index")) : -1;
  const mq = mapIndex >= 0 ? `?map_index=${mapIndex}` : "";
  const ti = useApi<TaskInstance>(mapIndex >= 0 ? `${base}/${mapIndex}` : base);
  const waiting = useApi<{ reason: string | null }>(`/ui/waiting/${enc(dagId)}/${enc(runId)}/${enc(taskId)}${mq}`);
  const tries = useApi<Tries>(`${base}/tries${mq}`);
  const xcoms = useApi<XComs>(`${base}/xcomEntries${mq}`);
  // Choosing a try keeps the map index in the URL.
  const setTry = (t: string) =>
    setParams((prev) => {
      const next = new URLSearchParams(prev);
      next.set("try", t);
      return next;
    });
  const canOperate = useCan("operator");
  const [clearing, setClearing] = useState(false);

  // Everything this page shows of the TI: read again when it changes, and on (re)subscribing.
  const readTi = () => {
    ti.reload();
    waiting.reload();
    tries.reload();
    xcoms.reload();
  };
  useLive(dagId, {
    subscribed: readTi,
    ti: (e) => {
      if (e.run_id !== runId || e.task_id !== taskId || (e.map_index >= 0 && e.map_index !== mapIndex)) return;
      readTi();
    },
  });

  const latestTry = ti.data?.try_number ?? 0;
  const chosenTry = Number(params.get("try") ?? 0) || latestTry;
  const reloadAll = () => {
    ti.reload();
    waiting.reload();
  };

  return (
    <section>
      <h1>
        <Link to={`/dags/${enc(dagId)}/grid`} className="muted">
          {dagId}
        </Link>{" "}
        /{" "}
        <Link to={`/dags/${enc(dagId)}/runs/${enc(runId)}`} className="muted">
          {runId}
        </Link>{" "}
        / <span data-testid="task-id">{taskId}</span>
        {mapIndex >= 0 && <span className="muted"> [{mapIndex}]</span>} {ti.data && <StateBadge state={ti.data.state} />}
      </h1>
      {mapIndex >= 0 && <MappedInstances dagId={dagId} runId={runId} taskId={taskId} current={mapIndex} />}
      {ti.error && <ErrorState error={ti.error} onRetry={ti.reload} />}
      {ti.loading && !ti.data && <Loading what="task instance" />}
      {waiting.data?.reason && (
        <p className="waiting" data-testid="waiting-reason">
          ⏳ {waiting.data.reason}
        </p>
      )}
      {ti.data && (
        <>
          {canOperate && (
            <div className="actions" data-testid="ti-actions">
              {/* Clearing takes whole tasks here; one mapped TI is cleared from the API ([task_id, map_index]). */}
              {mapIndex < 0 && (
                <button type="button" onClick={() => setClearing((c) => !c)} data-testid="clear-open">
                  Clear…
                </button>
              )}
              <MarkButtons dagId={dagId} runId={runId} taskId={taskId} mapIndex={mapIndex} onDone={reloadAll} />
            </div>
          )}
          {clearing && (
            <ClearPanel
              dagId={dagId}
              runId={runId}
              taskId={taskId}
              onDone={() => {
                setClearing(false);
                reloadAll();
              }}
            />
          )}
          <dl className="props">
            <dt>Operator</dt>
            <dd>{ti.data.operator ?? "—"}</dd>
            <dt>Try</dt>
            <dd>
              {ti.data.try_number} (max {ti.data.max_tries + 1})
            </dd>
            <dt>Queued / started / ended</dt>
            <dd>
              {fmtDate(ti.data.queued_when)} / {fmtDate(ti.data.start_date)} / {fmtDate(ti.data.end_date)}
            </dd>
            <dt>Duration</dt>
            <dd>{fmtDuration(ti.data.duration)}</dd>
            <dt>Pool / queue</dt>
            <dd>
              {ti.data.pool} / {ti.data.queue}
            </dd>
            <dt>Host</dt>
            <dd>{ti.data.hostname ?? "—"}</dd>
          </dl>
          <h2>Tries</h2>
          {tries.error ? (
            <ErrorState error={tries.error} />
          ) : (
            <table className="table">
              <thead>
                <tr>
                  <th>Try</th>
                  <th>State</th>
                  <th>Started</th>
                  <th>Duration</th>
                  <th>Host</th>
                </tr>
              </thead>
              <tbody>
                {tries.data?.task_instances.map((t) => (
                  <tr key={t.try_number}>
                    <td>
                      <button type="button" className="linklike" onClick={() => setTry(String(t.try_number))}>
                        {t.try_number}
                      </button>
                    </td>
                    <td>
                      <StateBadge state={t.state} />
                    </td>
                    <td>{fmtDate(t.start_date)}</td>
                    <td>{fmtDuration(t.duration)}</td>
                    <td>{t.hostname ?? "—"}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
          <h2>XCom</h2>
          {xcoms.error && <ErrorState error={xcoms.error} />}
          {xcoms.data?.xcom_entries.length === 0 && <p className="muted">No XCom.</p>}
          {xcoms.data?.xcom_entries.map((x) => (
            <details key={x.key}>
              <summary>
                <code>{x.key}</code>
              </summary>
              <XComValue path={`${base}/xcomEntries/${enc(x.key)}${mq}`} />
            </details>
          ))}
          <h2>
            Log{" "}
            <select aria-label="Try" value={chosenTry} onChange={(e) => setTry(e.target.value)}>
              {Array.from({ length: latestTry }, (_, i) => i + 1).map((n) => (
                <option key={n} value={n}>
                  try {n}
                </option>
              ))}
            </select>
          </h2>
          <LogView dagId={dagId} runId={runId} taskId={taskId} tryNumber={chosenTry} mapIndex={mapIndex} />
        </>
      )}
    </section>
  );
}
