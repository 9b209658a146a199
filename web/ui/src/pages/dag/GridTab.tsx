// The grid: runs × tasks from one /ui/grid response (a state code per cell), patched live by
// socket events, rows virtualised with @tanstack/react-virtual so 5,000 tasks render ~40 rows.
import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate } from "react-router-dom";
import { enc } from "../../api/client";
import { useLive } from "../../api/live";
import type { Grid } from "../../api/types";
import { useApi } from "../../api/useApi";
import { stateClass, StateDot } from "../../components/StateBadge";
import { Empty, ErrorState, Loading } from "../../components/Status";

const ROW_HEIGHT = 24;

export function GridTab({ dagId }: { dagId: string }) {
  const grid = useApi<Grid>(`/ui/grid/${enc(dagId)}?limit=25`);
  const [cells, setCells] = useState<string[]>([]);
  const [runStates, setRunStates] = useState<Map<string, string>>(new Map());
  const navigate = useNavigate();
  const parent = useRef<HTMLDivElement>(null);
  const reloadTimer = useRef<ReturnType<typeof setTimeout> | null>(null);

  useEffect(() => {
    if (!grid.data) return;
    setCells(grid.data.cells);
    setRunStates(new Map(grid.data.runs.map((r) => [r.dag_run_id, r.state])));
  }, [grid.data]);

  const decode = useMemo(() => Object.fromEntries(Object.entries(grid.data?.legend ?? {}).map(([state, code]) => [code, state])), [grid.data]);
  const taskIndex = useMemo(() => new Map((grid.data?.task_ids ?? []).map((t, i) => [t, i])), [grid.data]);
  const runIndex = useMemo(() => new Map((grid.data?.runs ?? []).map((r, i) => [r.dag_run_id, i])), [grid.data]);

  const { reload } = grid;
  const reloadSoon = useCallback(() => {
    if (reloadTimer.current) return;
    reloadTimer.current = setTimeout(() => {
      reloadTimer.current = null;
      reload();
    }, 150);
  }, [reload]);
  useEffect(() => () => clearTimeout(reloadTimer.current ?? undefined), []);

  const connected = useLive(dagId, {
    ti: (e) => {
      const r = runIndex.get(e.run_id);
      const t = taskIndex.get(e.task_id);
      if (r === undefined || t === undefined || e.map_index !== -1) return reloadSoon();
      const code = grid.data?.legend[e.state ?? "none"] ?? "?";
      setCells((prev) => prev.map((row, i) => (i === r ? row.slice(0, t) + code + row.slice(t + 1) : row)));
    },
    run: (e) => {
      if (!runIndex.has(e.run_id)) return reloadSoon();
      setRunStates((prev) => new Map(prev).set(e.run_id, e.state));
    },
  });

  const tasks = grid.data?.task_ids ?? [];
  const virtualizer = useVirtualizer({ count: tasks.length, getScrollElement: () => parent.current, estimateSize: () => ROW_HEIGHT, overscan: 12 });

  if (grid.error) return <ErrorState error={grid.error} onRetry={grid.reload} />;
  if (!grid.data) return <Loading what="grid" />;
  const runs = grid.data.runs;
  const columns = `minmax(180px, 280px) repeat(${Math.max(runs.length, 1)}, 22px)`;

  return (
    <div className="grid-wrap">
      <p className="muted small">
        {runs.length} of {grid.data.total_runs} runs · {tasks.length} tasks · <span data-testid="live-status">{connected ? "● live" : "○ connecting"}</span>
      </p>
      {runs.length === 0 && <Empty>No runs yet.</Empty>}
      <div className="grid-head" style={{ gridTemplateColumns: columns }}>
        <span className="muted small">task \ run</span>
        {runs.map((r) => (
          <Link key={r.dag_run_id} to={`/dags/${enc(dagId)}/runs/${enc(r.dag_run_id)}`} className="run-head" title={`${r.dag_run_id} (${runStates.get(r.dag_run_id) ?? r.state})`} aria-label={`run ${r.dag_run_id}`}>
            <StateDot state={runStates.get(r.dag_run_id) ?? r.state} />
          </Link>
        ))}
      </div>
      <div ref={parent} className="grid-body" data-testid="grid" role="grid" aria-rowcount={tasks.length}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((v) => {
            const taskId = tasks[v.index]!;
            return (
              <div key={v.key} role="row" className="grid-row" style={{ gridTemplateColumns: columns, transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}>
                <span className="task-name" title={taskId}>
                  {taskId}
                </span>
                {runs.map((r, ri) => {
                  const state = decode[cells[ri]?.[v.index] ?? "-"] ?? "absent";
                  if (state === "absent") return <span key={r.dag_run_id} className="cell absent" role="gridcell" />;
                  return (
                    <button
                      key={r.dag_run_id}
                      type="button"
                      role="gridcell"
                      className={`cell ${stateClass(state === "none" ? null : state)}`}
                      data-task={taskId}
                      data-run={r.dag_run_id}
                      data-state={state}
                      title={`${taskId} · ${r.dag_run_id}: ${state}`}
                      aria-label={`${taskId} in ${r.dag_run_id}: ${state}`}
                      onClick={() => navigate(`/dags/${enc(dagId)}/runs/${enc(r.dag_run_id)}/tasks/${enc(taskId)}`)}
                    />
                  );
                })}
              </div>
            );
          })}
        </div>
      </div>
    </div>
  );
}
