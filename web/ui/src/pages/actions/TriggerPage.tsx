// Trigger a run: a form generated from the DAG's params; the API validates the conf and its 422
// messages are shown next to the fields they name.
import { useEffect, useState } from "react";
import { Link, useNavigate, useParams } from "react-router-dom";
import { api, ApiError, enc } from "../../api/client";
import type { DagRun, Structure } from "../../api/types";
import { useApi } from "../../api/useApi";
import { useCan } from "../../components/SessionContext";
import { ErrorState, Loading } from "../../components/Status";
import { initialValue, ParamField, parseValue, type FieldValue } from "./ParamField";

/** A param may be named `constructor` or `toString`: read only the object's own keys. */
const own = <T,>(record: Record<string, T>, key: string): T | undefined => (Object.hasOwn(record, key) ? record[key] : undefined);

export function TriggerPage() {
  const { dagId = "" } = useParams();
  const structure = useApi<Structure>(`/ui/structure/${enc(dagId)}`);
  const canOperate = useCan("operator");
  const navigate = useNavigate();
  const [values, setValues] = useState<Record<string, FieldValue>>({});
  const [runId, setRunId] = useState("");
  const [logicalDate, setLogicalDate] = useState("");
  const [note, setNote] = useState("");
  const [fieldErrors, setFieldErrors] = useState<Record<string, string>>({});
  const [error, setError] = useState<ApiError | null>(null);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    if (structure.data) setValues(Object.fromEntries(Object.entries(structure.data.params).map(([k, spec]) => [k, initialValue(spec)])));
  }, [structure.data]);

  if (!canOperate) return <ErrorState error={new ApiError(403, "Triggering a run needs the operator role.")} />;
  if (structure.error) return <ErrorState error={structure.error} onRetry={structure.reload} />;
  if (!structure.data) return <Loading what="params" />;
  const params = structure.data.params;

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    const conf: Record<string, unknown> = {};
    const problems: Record<string, string> = {};
    for (const [name, spec] of Object.entries(params)) {
      try {
        conf[name] = parseValue(spec, own(values, name) ?? "");
      } catch (err) {
        problems[name] = `${name} ${(err as Error).message}`;
      }
    }
    setFieldErrors(problems);
    setError(null);
    if (Object.keys(problems).length) return;
    setBusy(true);
    try {
      const run = await api<DagRun>(`/api/v2/dags/${enc(dagId)}/dagRuns`, {
        method: "POST",
        body: { logical_date: logicalDate ? new Date(logicalDate).toISOString() : null, conf, dag_run_id: runId || undefined, note: note || undefined },
      });
      navigate(`/dags/${enc(dagId)}/grid?run=${enc(run.dag_run_id)}`);
    } catch (err) {
      const apiError = err as ApiError;
      setError(apiError);
      const byField: Record<string, string> = {};
      for (const f of apiError.fields ?? []) {
        const name = Object.keys(params).find((p) => f.field.split(".").includes(p) || f.message.includes(p));
        if (name) byField[name] = f.message;
      }
      setFieldErrors(byField);
    } finally {
      setBusy(false);
    }
  };

  return (
    <section>
      <h1>
        <Link to={`/dags/${enc(dagId)}/grid`} className="muted">
          {dagId}
        </Link>{" "}
        / trigger
      </h1>
      {/* noValidate: the API is the one validator of conf, and its messages are shown per field. */}
      <form className="card form" onSubmit={submit} aria-label="trigger" data-testid="trigger-form" noValidate>
        {Object.entries(params).map(([name, spec]) => (
          <ParamField key={name} name={name} spec={spec} value={own(values, name) ?? ""} error={own(fieldErrors, name)} onChange={(v) => setValues((prev) => ({ ...prev, [name]: v }))} />
        ))}
        {Object.keys(params).length === 0 && <p className="muted">This DAG has no params.</p>}
        <details>
          <summary>Run options</summary>
          <div className="field">
            <label htmlFor="run-id">Run id (optional)</label>
            <input id="run-id" value={runId} onChange={(e) => setRunId(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="logical-date">Logical date (optional)</label>
            <input id="logical-date" type="datetime-local" value={logicalDate} onChange={(e) => setLogicalDate(e.target.value)} />
          </div>
          <div className="field">
            <label htmlFor="note">Note</label>
            <input id="note" value={note} onChange={(e) => setNote(e.target.value)} />
          </div>
        </details>
        {error && <ErrorState error={error} />}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Triggering…" : "▶ Trigger"}
        </button>
      </form>
    </section>
  );
}
