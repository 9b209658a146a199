// Gantt for one run: per task a queued segment (queued → start) and a running segment (start → end).
import { Link, useSearchParams } from "react-router-dom";
import { enc } from "../../api/client";
import { stateClass } from "../../components/StateBadge";
import { fmtDuration } from "../../components/format";
import { Empty, ErrorState, Loading } from "../../components/Status";
import { RunPicker } from "./RunPicker";
import { useLatestRunId, useRunTis } from "./useRunTis";

export function GanttTab({ dagId }: { dagId: string }) {
  const [params] = useSearchParams();
  const { runId, runs, error: runsError } = useLatestRunId(dagId, params.get("run"));
  const { tis, error, loading } = useRunTis(dagId, runId);
  if (runsError) return <ErrorState error={runsError} />;
  if (error) return <ErrorState error={error} />;
  if (!runId) return <Empty>No runs yet.</Empty>;
  if (loading && !tis.length) return <Loading what="Gantt" />;
  const times = tis.flatMap((t) => [t.queued_when, t.start_date, t.end_date]).filter((x): x is string => Boolean(x)).map((x) => new Date(x).getTime());
  const min = Math.min(...times, Date.now());
  const max = Math.max(...times, min + 1000, ...(tis.some((t) => t.state === "running") ? [Date.now()] : []));
  const pct = (iso: string | null, fallback: number) => (((iso ? new Date(iso).getTime() : fallback) - min) / (max - min)) * 100;
  const sorted = [...tis].sort((a, b) => (a.queued_when ?? a.start_date ?? "~").localeCompare(b.queued_when ?? b.start_date ?? "~"));
  return (
    <div>
      <RunPicker runs={runs} runId={runId} />
      <p className="muted small">
        <span className="legend queued-seg" /> queued <span className="legend state-running" /> running · total {fmtDuration((max - min) / 1000)}
      </p>
      <div className="gantt" data-testid="gantt">
        {sorted.map((t) => {
          const q = t.queued_when ? pct(t.queued_when, min) : null;
          const s = t.start_date ? pct(t.start_date, min) : null;
          const e = pct(t.end_date, Date.now());
          return (
            <div key={t.task_id} className="gantt-row">
              <Link to={`/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(t.task_id)}`} className="task-name" title={t.task_id}>
                {t.task_id}
              </Link>
              <div className="gantt-track">
                {q !== null && <span className="gantt-bar queued-seg" style={{ left: `${q}%`, width: `${Math.max((s ?? e) - q, 0.3)}%` }} title={`queued ${t.queued_when}`} />}
                {s !== null && (
                  <span className={`gantt-bar ${stateClass(t.state)}`} style={{ left: `${s}%`, width: `${Math.max(e - s, 0.3)}%` }} title={`${t.state} · try ${t.try_number} · ${fmtDuration(t.duration)}`} />
                )}
              </div>
            </div>
          );
        })}
      </div>
    </div>
  );
}
