// Run metrics (ctx.metrics.log), like an experiment tracker: the table of one run's metrics (run
// page) and a line chart of a metric across the DAG's runs (DAG page, Metrics tab). Plain SVG: a
// handful of points per line needs no charting library.
import { useMemo, useState } from "react";
import { Link } from "react-router-dom";
import { enc } from "../api/client";
import { useApi } from "../api/useApi";
import { ErrorState, Loading } from "./Status";

export interface MetricPoint {
  dag_run_id: string;
  logical_date: string | null;
  task_id: string;
  map_index: number;
  try_number: number;
  name: string;
  value: number;
  step: number | null;
  logged_at: string;
}

/** Four significant digits, without trailing zeros. */
const fmt = (v: number) => String(Number(v.toPrecision(4)));

/** One run's metrics; renders nothing when the run logged none. */
export function RunMetrics({ dagId, runId }: { dagId: string; runId: string }) {
  const m = useApi<{ metrics: MetricPoint[] }>(`/api/v2/dags/${enc(dagId)}/metrics?dag_run_id=${enc(runId)}`);
  if (m.error) return <ErrorState error={m.error} onRetry={m.reload} />;
  if (!m.data?.metrics.length) return null;
  return (
    <>
      <h2>Metrics</h2>
      <table className="table" data-testid="run-metrics">
        <thead>
          <tr>
            <th>Task</th>
            <th>Name</th>
            <th>Value</th>
            <th>Step</th>
            <th>Try</th>
          </tr>
        </thead>
        <tbody>
          {m.data.metrics.map((p, i) => (
            <tr key={i}>
              <td>
                {p.task_id}
                {p.map_index >= 0 ? `[${p.map_index}]` : ""}
              </td>
              <td>{p.name}</td>
              <td>{fmt(p.value)}</td>
              <td>{p.step ?? "—"}</td>
              <td>{p.try_number}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

const W = 640;
const H = 220;
const PAD = { left: 48, right: 12, top: 12, bottom: 28 };

/** A chosen metric across the DAG's runs (last 100), one line per task. */
export function MetricsChart({ dagId }: { dagId: string }) {
  const m = useApi<{ metrics: MetricPoint[] }>(`/api/v2/dags/${enc(dagId)}/metrics`);
  const names = useMemo(() => [...new Set((m.data?.metrics ?? []).map((p) => p.name))].sort(), [m.data]);
  const [chosen, setChosen] = useState<string | null>(null);
  if (m.error) return <ErrorState error={m.error} onRetry={m.reload} />;
  if (!m.data) return <Loading what="metrics" />;
  if (!names.length) return <p className="muted">No metrics logged yet: tasks log them with ctx.metrics.log(name, value).</p>;
  const name = chosen && names.includes(chosen) ? chosen : (names.find((n) => /acc|f1|score|loss/i.test(n)) ?? names[0]!);
  // The last value of the metric per (run, task), in run order.
  const runs = [...new Set(m.data.metrics.map((p) => p.dag_run_id))];
  const series = new Map<string, Map<string, number>>();
  for (const p of m.data.metrics) {
    if (p.name !== name) continue;
    const task = p.map_index >= 0 ? `${p.task_id}[${p.map_index}]` : p.task_id;
    if (!series.has(task)) series.set(task, new Map());
    series.get(task)!.set(p.dag_run_id, p.value);
  }
  const values = [...series.values()].flatMap((s) => [...s.values()]);
  const lo = Math.min(...values);
  const hi = Math.max(...values);
  const span = hi - lo || Math.abs(hi) || 1;
  const x = (i: number) => PAD.left + (runs.length <= 1 ? (W - PAD.left - PAD.right) / 2 : (i * (W - PAD.left - PAD.right)) / (runs.length - 1));
  const y = (v: number) => PAD.top + (1 - (v - lo) / span) * (H - PAD.top - PAD.bottom);
  const colours = ["var(--accent)", "var(--state-success)", "var(--state-up_for_retry)", "var(--state-restarting)", "var(--state-failed)"];
  return (
    <div className="card" data-testid="metrics-chart">
      <label style={{ display: "block", marginBottom: 8 }}>
        Metric{" "}
        <select value={name} onChange={(e) => setChosen(e.target.value)} aria-label="metric">
          {names.map((n) => (
            <option key={n}>{n}</option>
          ))}
        </select>
      </label>
      <svg viewBox={`0 0 ${W} ${H}`} width="100%" style={{ maxWidth: W, display: "block" }} role="img" aria-label={`${name} across runs`}>
        <line x1={PAD.left} y1={H - PAD.bottom} x2={W - PAD.right} y2={H - PAD.bottom} stroke="var(--border)" />
        <line x1={PAD.left} y1={PAD.top} x2={PAD.left} y2={H - PAD.bottom} stroke="var(--border)" />
        <text x={PAD.left - 6} y={y(hi) + 4} textAnchor="end" fontSize="11" fill="var(--muted)">
          {fmt(hi)}
        </text>
        <text x={PAD.left - 6} y={y(lo) + 4} textAnchor="end" fontSize="11" fill="var(--muted)">
          {fmt(lo)}
        </text>
        <text x={W / 2} y={H - 6} textAnchor="middle" fontSize="11" fill="var(--muted)">
          runs, oldest → newest ({runs.length})
        </text>
        {[...series.entries()].map(([task, points], k) => {
          const pts = runs.flatMap((r, i) => (points.has(r) ? [[x(i), y(points.get(r)!), r, points.get(r)!] as const] : []));
          const colour = colours[k % colours.length];
          return (
            <g key={task}>
              <polyline fill="none" stroke={colour} strokeWidth="2" points={pts.map(([px, py]) => `${px},${py}`).join(" ")} />
              {pts.map(([px, py, run, v]) => (
                <circle key={run} cx={px} cy={py} r="3.5" fill={colour}>
                  <title>{`${task} · ${run}: ${fmt(v)}`}</title>
                </circle>
              ))}
            </g>
          );
        })}
      </svg>
      <p className="muted">
        {[...series.keys()].join(", ")} · latest run:{" "}
        <Link to={`/dags/${enc(dagId)}/runs/${enc(runs.at(-1)!)}`}>{runs.at(-1)}</Link>
      </p>
    </div>
  );
}
