// DAG files that failed to import, with their stack traces; paged server-side.
import { useSearchParams } from "react-router-dom";
import { qs } from "../api/client";
import type { ImportError } from "../api/types";
import { useApi } from "../api/useApi";
import { fmtDate } from "../components/format";
import { Pager } from "../components/Pager";
import { Empty, ErrorState, Loading } from "../components/Status";

const LIMIT = 20;

export function ImportErrorsPage() {
  const [params, setParams] = useSearchParams();
  const offset = Number(params.get("offset") ?? 0) || 0;
  const res = useApi<{ import_errors: ImportError[]; total_entries: number }>(`/api/v2/importErrors${qs({ limit: LIMIT, offset })}`);
  return (
    <section>
      <h1>Import errors</h1>
      {res.error && <ErrorState error={res.error} onRetry={res.reload} />}
      {res.loading && !res.data && <Loading />}
      {res.data?.import_errors.length === 0 && <Empty>Every DAG file imports cleanly.</Empty>}
      {res.data?.import_errors.map((e) => (
        <article key={e.import_error_id} className="card">
          <h3>
            <code>{e.filename}</code> <span className="muted small">{fmtDate(e.timestamp)}</span>
          </h3>
          <pre className="log">{e.stack_trace}</pre>
        </article>
      ))}
      {res.data && <Pager offset={offset} limit={LIMIT} total={res.data.total_entries} onChange={(o) => setParams({ offset: String(o) })} />}
    </section>
  );
}
