// Source of any DAG version (GET /dagSources/{dag_id}?version_number=), highlighted by
// highlight.js — whose output escapes the code, so the source is only ever text.
import hljs from "highlight.js/lib/core";
import typescript from "highlight.js/lib/languages/typescript";
import { useMemo } from "react";
import { useSearchParams } from "react-router-dom";
import { enc, qs } from "../../api/client";
import { useApi } from "../../api/useApi";
import { ErrorState, Loading } from "../../components/Status";

hljs.registerLanguage("typescript", typescript);

interface Versions {
  dag_versions: { version_number: number; created_at: string }[];
}

export function CodeTab({ dagId }: { dagId: string }) {
  const [params, setParams] = useSearchParams();
  const version = params.get("version") ?? "";
  const versions = useApi<Versions>(`/api/v2/dags/${enc(dagId)}/dagVersions?order_by=-version_number&limit=100`);
  const source = useApi<{ content: string | null; version_number: number | null }>(`/api/v2/dagSources/${enc(dagId)}${qs({ version_number: version || undefined })}`);
  const html = useMemo(() => (source.data?.content ? hljs.highlight(source.data.content, { language: "typescript" }).value : ""), [source.data]);
  return (
    <div>
      {versions.data && (
        <label className="inline">
          Version{" "}
          <select value={version} onChange={(e) => setParams(e.target.value ? { version: e.target.value } : {})}>
            <option value="">latest</option>
            {versions.data.dag_versions.map((v) => (
              <option key={v.version_number} value={v.version_number}>
                v{v.version_number} · {v.created_at}
              </option>
            ))}
          </select>
        </label>
      )}
      {source.error && <ErrorState error={source.error} onRetry={source.reload} />}
      {source.loading && !source.data && <Loading what="source" />}
      {source.data && (
        <pre className="code hljs" data-testid="code">
          {/* highlight.js escapes every character of the source before adding its spans. */}
          <code dangerouslySetInnerHTML={{ __html: html }} />
        </pre>
      )}
    </div>
  );
}
