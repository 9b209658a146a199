// The grid: runs × tasks from one /ui/grid response (a state code per cell), patched live by
// socket events, rows virtualised with @tanstack/react-virtual so 5,000 tasks render ~40 rows.
// Task groups are header rows (collapsed ones listed in the URL's `collapsed`); a mapped task's
// cell carries its TI count and a "3 success, 1 failed" tooltip (gridRows.ts).
import { useVirtualizer } from "@tanstack/react-virtual";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { Link, useNavigate, useSearchParams } from "react-router-dom";
import { enc } from "../../api/client";
import { useLive } from "../../api/live";
import type { Grid } from "../../api/types";
import { useApi } from "../../api/useApi";
import { stateClass, StateDot } from "../../components/StateBadge";
import { Empty, ErrorState, Loading } from "../../components/Status";
import { describeCounts, groupSummaries, groupTree, visibleRows } from "./gridRows";

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

  const [search, setSearch] = useSearchParams();
  const collapsedParam = search.get("collapsed") ?? "";
  const collapsed = useMemo(() => new Set(collapsedParam.split(",").filter(Boolean)), [collapsedParam]);
  const tree = useMemo(() => groupTree(grid.data?.task_ids.length ?? 0, grid.data?.groups), [grid.data]);
  const rows = useMemo(() => visibleRows(tree, collapsed), [tree, collapsed]);
  const summaries = useMemo(() => groupSummaries(tree, cells, grid.data?.legend ?? {}), [tree, cells, grid.data]);
  const toggleGroup = useCallback(
    (path: string) =>
      setSearch(
        (prev) => {
          const next = new URLSearchParams(prev);
          const set = new Set((prev.get("collapsed") ?? "").split(",").filter(Boolean));
          if (!set.delete(path)) set.add(path);
          if (set.size) next.set("collapsed", [...set].join(","));
          else next.delete("collapsed");
          return next;
        },
        { replace: true },
      ),
    [setSearch],
  );

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
    subscribed: reloadSoon,
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
  const virtualizer = useVirtualizer({ count: rows.length, getScrollElement: () => parent.current, estimateSize: () => ROW_HEIGHT, overscan: 12 });

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
      <div ref={parent} className="grid-body" data-testid="grid" role="grid" aria-rowcount={rows.length}>
        <div style={{ height: virtualizer.getTotalSize(), position: "relative" }}>
          {virtualizer.getVirtualItems().map((v) => {
            const row = rows[v.index]!;
            if (row.kind === "group") {
              const summary = summaries.get(row.path) ?? [];
              const name = row.path.slice(row.path.lastIndexOf(".") + 1);
              return (
                <div key={v.key} role="row" className="grid-row group-row" style={{ gridTemplateColumns: columns, transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}>
                  <button
                    type="button"
                    className="group-toggle"
                    style={{ paddingLeft: row.depth * 14 }}
                    aria-expanded={!row.collapsed}
                    data-group={row.path}
                    title={row.path}
                    onClick={() => toggleGroup(row.path)}
                  >
                    {row.collapsed ? "▸" : "▾"} {name}
                  </button>
                  {runs.map((r, ri) => {
                    const state = decode[summary[ri] ?? "-"] ?? "absent";
                    if (state === "absent") return <span key={r.dag_run_id} className="cell absent" role="gridcell" />;
                    return (
                      <span
                        key={r.dag_run_id}
                        role="gridcell"
                        className={`cell group-cell ${stateClass(state === "none" ? null : state)}`}
                        data-group={row.path}
                        data-run={r.dag_run_id}
                        data-state={state}
                        title={`group ${row.path} · ${r.dag_run_id}: ${state}`}
                      />
                    );
                  })}
                </div>
              );
            }
            const taskId = tasks[row.task]!;
            const group = grid.data!.groups?.[row.task];
            // Own keys only: a task may be named `toString` or `constructor`.
            const mappedCounts = grid.data!.mapped_counts;
            const counts = mappedCounts && Object.hasOwn(mappedCounts, taskId) ? mappedCounts[taskId] : undefined;
            return (
              <div key={v.key} role="row" className="grid-row" style={{ gridTemplateColumns: columns, transform: `translateY(${v.start}px)`, height: ROW_HEIGHT }}>
                <span className="task-name" title={taskId} style={row.depth ? { paddingLeft: row.depth * 14 + 12 } : undefined}>
                  {group ? taskId.slice(group.length + 1) : taskId}
                  {counts && <span className="muted"> [ ]</span>}
                </span>
                {runs.map((r, ri) => {
                  const state = decode[cells[ri]?.[row.task] ?? "-"] ?? "absent";
                  if (state === "absent") return <span key={r.dag_run_id} className="cell absent" role="gridcell" />;
                  const mapped = counts?.[ri];
                  const total = mapped ? Object.values(mapped).reduce((a, b) => a + b, 0) : 0;
                  const summary = mapped ? describeCounts(mapped, decode) : state;
                  return (
                    <button
                      key={r.dag_run_id}
                      type="button"
                      role="gridcell"
                      className={`cell ${stateClass(state === "none" ? null : state)}`}
                      data-task={taskId}
                      data-run={r.dag_run_id}
                      data-state={state}
                      data-mapped={mapped ? summary : undefined}
                      title={`${taskId} · ${r.dag_run_id}: ${summary}`}
                      aria-label={`${taskId} in ${r.dag_run_id}: ${summary}`}
                      // An expanded mapped task has no unmapped TI: open its first mapped one (links to the rest).
                      onClick={() => navigate(`/dags/${enc(dagId)}/runs/${enc(r.dag_run_id)}/tasks/${enc(taskId)}${mapped ? "?map_index=0" : ""}`)}
                    >
                      {mapped && <span className="map-count">{total}</span>}
                    </button>
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
