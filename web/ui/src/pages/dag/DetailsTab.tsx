// Schedule, params, owners, tags and the doc, rendered from Markdown as React elements (no HTML).
import { enc } from "../../api/client";
import type { Dag, Structure } from "../../api/types";
import { useApi } from "../../api/useApi";
import { fmtDate } from "../../components/format";
import { JsonView } from "../../components/JsonView";
import { Markdown } from "../../components/Markdown";
import { ErrorState, Loading } from "../../components/Status";

export function DetailsTab({ dagId, dag }: { dagId: string; dag: Dag }) {
  const s = useApi<Structure>(`/ui/structure/${enc(dagId)}`);
  if (s.error) return <ErrorState error={s.error} onRetry={s.reload} />;
  if (!s.data) return <Loading what="details" />;
  const d = s.data;
  return (
    <div className="details">
      <dl className="props">
        <dt>Schedule</dt>
        <dd>
          <code>{dag.timetable_summary ?? "manual only"}</code>
        </dd>
        <dt>Time zone</dt>
        <dd>{d.timezone}</dd>
        <dt>Next run</dt>
        <dd>{fmtDate(dag.next_dagrun_run_after, d.timezone)}</dd>
        <dt>Start / end</dt>
        <dd>
          {fmtDate(d.start_date)} / {fmtDate(d.end_date)}
        </dd>
        <dt>Catchup</dt>
        <dd>{String(d.catchup)}</dd>
        <dt>Max active runs / tasks</dt>
        <dd>
          {d.max_active_runs} / {d.max_active_tasks}
        </dd>
        <dt>Owners</dt>
        <dd>{d.owners.join(", ") || "—"}</dd>
        <dt>Tags</dt>
        <dd>{d.tags.join(", ") || "—"}</dd>
        <dt>File</dt>
        <dd>
          <code>{dag.fileloc}</code>
        </dd>
        <dt>Version</dt>
        <dd>v{d.version_number}</dd>
      </dl>
      <h2>Params</h2>
      {Object.keys(d.params).length === 0 ? (
        <p className="muted">No params.</p>
      ) : (
        <table className="table" data-testid="params-table">
          <thead>
            <tr>
              <th>Name</th>
              <th>Type</th>
              <th>Default</th>
              <th>Description</th>
            </tr>
          </thead>
          <tbody>
            {Object.entries(d.params).map(([name, p]) => (
              <tr key={name}>
                <td>
                  <code>{name}</code>
                </td>
                <td>{p.type ?? "any"}</td>
                <td>
                  <code>{JSON.stringify(p.default)}</code>
                </td>
                <td>{p.description ?? ""}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <h2>Documentation</h2>
      {d.doc_md ? <Markdown source={d.doc_md} /> : <p className="muted">No doc.</p>}
      <h2>Tasks</h2>
      <JsonView value={d.tasks.map((t) => ({ task_id: t.task_id, operator: t.operator, upstream: t.upstream, trigger_rule: t.trigger_rule, retries: t.retries, pool: t.pool, queue: t.queue }))} label="tasks" />
    </div>
  );
}
