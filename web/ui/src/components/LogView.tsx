// One try's log: what the API has, then lines streamed live over socket.io while the task runs;
// follows the end unless the reader scrolled up; search filters lines; download saves the text.
// Lines are text nodes: a log line containing HTML shows as that text.
import { useEffect, useMemo, useRef, useState } from "react";
import { enc } from "../api/client";
import { useLive } from "../api/live";
import type { LogMessage } from "../api/types";
import { useApi } from "../api/useApi";
import { ErrorState, Loading } from "./Status";

interface Props {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
  /** A mapped TI's index (d.map); -1 or absent: the unmapped TI. */
  mapIndex?: number;
}

const keyOf = (m: LogMessage) => `${m.timestamp ? new Date(m.timestamp).getTime() : ""}|${m.event}`;

export function LogView({ dagId, runId, taskId, tryNumber, mapIndex = -1 }: Props) {
  const res = useApi<{ content: LogMessage[] }>(
    tryNumber > 0 ? `/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances/${enc(taskId)}/logs/${tryNumber}${mapIndex >= 0 ? `?map_index=${mapIndex}` : ""}` : null,
  );
  const [live, setLive] = useState<LogMessage[]>([]);
  const [query, setQuery] = useState("");
  const [follow, setFollow] = useState(true);
  const box = useRef<HTMLPreElement>(null);

  useEffect(() => setLive([]), [dagId, runId, taskId, tryNumber, mapIndex]);
  useLive(dagId, {
    subscribed: res.reload,
    log: (e) => {
      if (e.run_id !== runId || e.task_id !== taskId || e.try_number !== tryNumber || (e.map_index ?? -1) !== mapIndex) return;
      setLive((prev) => [...prev, { timestamp: e.timestamp, event: e.event, level: e.level }]);
    },
  });

  const lines = useMemo(() => {
    const fetched = res.data?.content ?? [];
    const seen = new Set(fetched.map(keyOf));
    return [...fetched, ...live.filter((l) => !seen.has(keyOf(l)))];
  }, [res.data, live]);
  const shown = useMemo(() => (query ? lines.filter((l) => l.event.toLowerCase().includes(query.toLowerCase())) : lines), [lines, query]);

  useEffect(() => {
    if (follow && box.current) box.current.scrollTop = box.current.scrollHeight;
  }, [shown, follow]);

  const download = () => {
    const text = lines.map((l) => `${l.timestamp ?? ""} ${l.level.toUpperCase()} ${l.event}`).join("\n");
    const url = URL.createObjectURL(new Blob([text], { type: "text/plain" }));
    const a = document.createElement("a");
    a.href = url;
    a.download = `${dagId}__${runId}__${taskId}__try${tryNumber}.log`;
    a.click();
    URL.revokeObjectURL(url);
  };

  if (tryNumber === 0) return <p className="muted">The task has not started yet: no log.</p>;
  return (
    <div className="logview">
      <div className="row">
        <input aria-label="Search the log" placeholder="Search the log…" value={query} onChange={(e) => setQuery(e.target.value)} />
        <label className="check">
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} /> follow
        </label>
        <button type="button" onClick={download}>
          Download
        </button>
        <span className="muted small">
          {shown.length} / {lines.length} lines
        </span>
      </div>
      {res.error && <ErrorState error={res.error} onRetry={res.reload} />}
      {res.loading && !res.data && <Loading what="log" />}
      <pre
        ref={box}
        className="log"
        data-testid="log"
        tabIndex={0}
        onScroll={(e) => {
          const el = e.currentTarget;
          const atEnd = el.scrollHeight - el.scrollTop - el.clientHeight < 20;
          if (atEnd !== follow) setFollow(atEnd);
        }}
      >
        {shown.map((l, i) => (
          <div key={i} className={`logline level-${l.level}`}>
            <span className="ts">{l.timestamp ? new Date(l.timestamp).toISOString().slice(11, 23) : ""}</span> {l.event}
          </div>
        ))}
      </pre>
    </div>
  );
}
