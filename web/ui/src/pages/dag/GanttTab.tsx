// Gantt for one run: per TI a queued segment (queued → start of the current try) and one bar per
// try (start → end, coloured by that try's state), so retries show as separate bars with the
// retry delay between them. Finished tries come from /ui/tries; the current try from the TI.
import { useEffect, useMemo } from "react";
import { Link, useSearchParams } from "react-router-dom";
import { enc } from "../../api/client";
import { useApi } from "../../api/useApi";
import { stateClass } from "../../components/StateBadge";
import { fmtDuration } from "../../components/format";
import { Empty, ErrorState, Loading } from "../../components/Status";
import { RunPicker } from "./RunPicker";
import { useLatestRunId, useRunTis } from "./useRunTis";

interface Try {
  task_id: string;
  map_index: number;
  try_number: number;
  state: string;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
}

const key = (taskId: string, mapIndex: number) => `${taskId}\u0000${mapIndex}`;

export function GanttTab({ dagId }: { dagId: string }) {
  const [params] = useSearchParams();
  const { runId, runs, error: runsError } = useLatestRunId(dagId, params.get("run"));
  const { tis, error, loading } = useRunTis(dagId, runId);
  const tries = useApi<{ tries: Try[] }>(runId ? `/ui/tries/${enc(dagId)}/${enc(runId)}` : null);
  // A TI changed (live event → TIs re-read): its finished tries may have changed too.
  const signature = tis.map((t) => `${t.task_id}:${t.map_index}:${t.state}:${t.try_number}`).join(",");
  const { reload } = tries;
  useEffect(() => reload(), [signature, reload]);
  const byTi = useMemo(() => {
    const m = new Map<string, Try[]>();
    for (const t of tries.data?.tries ?? []) m.set(key(t.task_id, t.map_index), [...(m.get(key(t.task_id, t.map_index)) ?? []), t]);
    return m;
  }, [tries.data]);

  if (runsError) return <ErrorState error={runsError} />;
  if (error) return <ErrorState error={error} />;
  if (!runId) return <Empty>No runs yet.</Empty>;
  if (loading && !tis.length) return <Loading what="Gantt" />;
  const rows = tis.map((t) => {
    const finished = byTi.get(key(t.task_id, t.map_index)) ?? [];
    // The current try, unless it is already among the finished ones.
    const current: Try | null =
      t.start_date && !finished.some((f) => f.try_number === t.try_number)
        ? { task_id: t.task_id, map_index: t.map_index, try_number: t.try_number, state: t.state ?? "none", start_date: t.start_date, end_date: t.end_date, duration: t.duration }
        : null;
    return { ti: t, bars: current ? [...finished, current] : finished };
  });
  const times = rows
    .flatMap((r) => [r.ti.queued_when, ...r.bars.flatMap((b) => [b.start_date, b.end_date])])
    .filter((x): x is string => Boolean(x))
    .map((x) => new Date(x).getTime());
  const min = Math.min(...times, Date.now());
  const max = Math.max(...times, min + 1000, ...(tis.some((t) => t.state === "running") ? [Date.now()] : []));
  const pct = (iso: string | null, fallback: number) => (((iso ? new Date(iso).getTime() : fallback) - min) / (max - min)) * 100;
  const sorted = [...rows].sort((a, b) => (a.ti.queued_when ?? a.bars[0]?.start_date ?? "~").localeCompare(b.ti.queued_when ?? b.bars[0]?.start_date ?? "~"));
  return (
    <div>
      <RunPicker runs={runs} runId={runId} />
      <p className="muted small">
        <span className="legend queued-seg" /> queued <span className="legend state-running" /> a try (one bar per try) · total {fmtDuration((max - min) / 1000)}
      </p>
      <div className="gantt" data-testid="gantt">
        {sorted.map(({ ti: t, bars }) => {
          // Queued: from the TI's queued time to the start of the try that followed it, or to now.
          const started = bars.find((b) => t.queued_when && b.start_date && b.start_date >= t.queued_when);
          const q = t.queued_when ? pct(t.queued_when, min) : null;
          const qEnd = started ? pct(started.start_date, min) : t.start_date && t.queued_when && t.start_date < t.queued_when ? pct(null, Date.now()) : pct(t.start_date, Date.now());
          const label = t.map_index >= 0 ? `${t.task_id} [${t.map_index}]` : t.task_id;
          return (
            <div key={key(t.task_id, t.map_index)} className="gantt-row" data-testid="gantt-row" data-task={t.task_id}>
              <Link to={`/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(t.task_id)}`} className="task-name" title={label}>
                {label}
              </Link>
              <div className="gantt-track">
                {q !== null && (
                  <span className="gantt-bar queued-seg" style={{ left: `${q}%`, width: `${Math.max(qEnd - q, 0.3)}%` }} title={`queued ${t.queued_when}`} />
                )}
                {bars.map((b) => {
                  const s = pct(b.start_date, min);
                  const e = pct(b.end_date, Date.now());
                  return (
                    <span
                      key={b.try_number}
                      data-testid="gantt-try"
                      className={`gantt-bar ${stateClass(b.state)}`}
                      style={{ left: `${s}%`, width: `${Math.max(e - s, 0.3)}%` }}
                      title={`try ${b.try_number} · ${b.state} · ${fmtDuration(b.duration)}`}
                    />
                  );
                })}
              </div>
            </div>
          );
        })}
      </div>
    </div>
  );
}
