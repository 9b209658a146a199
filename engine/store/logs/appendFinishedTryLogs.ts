// Log lines that belong to a try after it ended (a DAG's run callback, run by the worker whose
// report ended the run). Fenced on the try and the worker that ran it, not on `running`.
import { sql, type Kysely } from "kysely";
import type { Database } from "../schema.js";
import type { LogLine } from "./appendLogs.js";

export async function appendFinishedTryLogs(db: Kysely<Database>, input: { tiId: string; tryNumber: number; workerId: string; lines: LogLine[] }): Promise<void> {
  if (!input.lines.length) return;
  const payload = JSON.stringify(input.lines.map((l) => ({ ts: new Date(l.ts).toISOString(), stream: l.stream, level: l.level ?? "info", line: l.line })));
  await sql`
    insert into task_logs (ti_id, try_number, ts, stream, level, line)
    select ti.id, ${input.tryNumber}::int, r.ts, r.stream, r.level, r.line
      from task_instances ti, jsonb_to_recordset(${payload}::jsonb) as r(ts timestamptz, stream text, level text, line text)
     where ti.id = ${input.tiId} and ti.try_number = ${input.tryNumber} and ti.worker_id = ${input.workerId}`.execute(db);
}
