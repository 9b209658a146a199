// Writing one audit-log row (migrations/0009_audit_log.sql): who did what, when.
import type { Kysely } from "kysely";
import type { Database } from "../schema.js";

export interface AuditEvent {
  username: string | null;
  role: string | null;
  event: string;
  method: string;
  path: string;
  status: number;
  dagId?: string | null;
  runId?: string | null;
  taskId?: string | null;
  mapIndex?: number | null;
  tryNumber?: number | null;
  clientAddress?: string | null;
  extra?: Record<string, unknown> | null;
}

export async function recordAuditEvent(db: Kysely<Database>, e: AuditEvent): Promise<void> {
  await db
    .insertInto("audit_log")
    .values({
      username: e.username,
      role: e.role,
      event: e.event,
      method: e.method,
      path: e.path,
      status: e.status,
      dag_id: e.dagId ?? null,
      run_id: e.runId ?? null,
      task_id: e.taskId ?? null,
      map_index: e.mapIndex ?? null,
      try_number: e.tryNumber ?? null,
      client_address: e.clientAddress ?? null,
      extra: e.extra ? JSON.stringify(e.extra) : null,
    })
    .execute();
}
