// Shipping a running try's log lines, in batches. Fenced like every write of a worker: lines from
// an attempt that lost its lease are dropped.
import { sql, type Kysely } from "kysely";
import type { Database } from "../schema.js";

export interface LogLine {
  ts: number;
  stream: "stdout" | "stderr" | "log";
  level?: "debug" | "info" | "warn" | "error";
  line: string;
}

export async function appendLogs(db: Kysely<Database>, input: { tiId: string; tryNumber: number; workerId: string; lines: LogLine[] }): Promise<boolean> {
  if (!input.lines.length) return true;
  const payload = JSON.stringify(input.lines.map((l) => ({ ts: new Date(l.ts).toISOString(), stream: l.stream, level: l.level ?? "info", line: l.line })));
  const result = await sql`
    insert into task_logs (ti_id, try_number, ts, stream, level, line)
    select ti.id, ti.try_number, r.ts, r.stream, r.level, r.line
      from task_instances ti, jsonb_to_recordset(${payload}::jsonb) as r(ts timestamptz, stream text, level text, line text)
     where ti.id = ${input.tiId} and ti.try_number = ${input.tryNumber} and ti.worker_id = ${input.workerId} and ti.state = 'running'`.execute(db);
  return Number(result.numAffectedRows ?? 0) > 0;
}

export async function readLogs(db: Kysely<Database>, tiId: string, tryNumber: number) {
  return db.selectFrom("task_logs").select(["ts", "stream", "level", "line"]).where("ti_id", "=", tiId).where("try_number", "=", tryNumber).orderBy("id").execute();
}
