// A paged table over one list endpoint; an endpoint the server does not offer shows an error
// state naming it. `toolbar` and `actions` (admin forms, AdminForms.tsx) get `reload` to refresh it.
import { useSearchParams } from "react-router-dom";
import { qs } from "../../api/client";
import { useApi } from "../../api/useApi";
import { Pager } from "../../components/Pager";
import { Empty, ErrorState, Loading } from "../../components/Status";

export interface Column<T> {
  title: string;
  render: (row: T) => React.ReactNode;
}

const LIMIT = 50;

export function AdminTable<T>({
  path,
  listKey,
  columns,
  paged = true,
  rowKey,
  toolbar,
  actions,
}: {
  path: string;
  listKey: string;
  columns: Column<T>[];
  paged?: boolean;
  rowKey: (row: T) => string;
  toolbar?: (reload: () => void) => React.ReactNode;
  actions?: (row: T, reload: () => void) => React.ReactNode;
}) {
  const [params, setParams] = useSearchParams();
  const offset = Number(params.get("offset") ?? 0) || 0;
  const res = useApi<Record<string, unknown>>(`${path}${paged ? qs({ limit: LIMIT, offset }) : ""}`);
  if (res.error) return <ErrorState error={res.error} onRetry={res.reload} />;
  if (!res.data) return <Loading />;
  const reload = res.reload;
  const rows = (res.data[listKey] as T[] | undefined) ?? [];
  const total = Number(res.data.total_entries ?? rows.length);
  return (
    <>
      {toolbar?.(reload)}
      {rows.length === 0 ? (
        <Empty>Nothing here yet.</Empty>
      ) : (
        <table className="table" data-testid="admin-table">
          <thead>
            <tr>
              {columns.map((c) => (
                <th key={c.title}>{c.title}</th>
              ))}
              {actions && <th>Actions</th>}
            </tr>
          </thead>
          <tbody>
            {rows.map((row) => (
              <tr key={rowKey(row)}>
                {columns.map((c) => (
                  <td key={c.title}>{c.render(row)}</td>
                ))}
                {actions && <td className="row-actions">{actions(row, reload)}</td>}
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {paged && <Pager offset={offset} limit={LIMIT} total={total} onChange={(o) => setParams({ offset: String(o) })} />}
    </>
  );
}
