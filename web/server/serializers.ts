// Rows → Airflow REST API v2 response shapes (../shared/airflow-api). Every required field is
// present, null where Updraft has no such thing (triggerer, executor, ...); dates are ISO 8601 in UTC.
import type { DagRow, DagRunRow, TaskInstanceRow } from "../../engine/store/schema.js";

/** Updraft has one bundle: the DAGs folder (Airflow's default bundle name). */
export const BUNDLE_NAME = "dags-folder";

export function iso(value: Date | string | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  return (value instanceof Date ? value : new Date(value)).toISOString();
}

/** A DAG version as the joined queries select it. */
export interface VersionColumns {
  version_id: string;
  version_number: number;
  version_bundle_version: string | null;
  version_created_at: Date;
}

export function dagVersionResponse(dagId: string, v: VersionColumns) {
  return {
    id: v.version_id,
    version_number: v.version_number,
    dag_id: dagId,
    bundle_name: BUNDLE_NAME,
    bundle_version: v.version_bundle_version,
    created_at: iso(v.version_created_at),
    dag_display_name: dagId,
    bundle_url: null,
  };
}

export type DagQueryRow = DagRow & { bundle_version: string | null; has_import_errors: boolean };

export function dagResponse(row: DagQueryRow) {
  return {
    dag_id: row.dag_id,
    dag_display_name: row.dag_id,
    is_paused: row.is_paused,
    is_stale: row.is_stale,
    last_parsed_time: iso(row.last_parsed_time),
    last_expired: null,
    bundle_name: BUNDLE_NAME,
    bundle_version: row.bundle_version,
    relative_fileloc: row.relative_fileloc,
    fileloc: row.fileloc,
    description: row.description,
    timetable_summary: row.timetable_summary,
    timetable_description: row.timetable_summary,
    tags: [...row.tags].sort().map((name) => ({ name, dag_id: row.dag_id, dag_display_name: row.dag_id })),
    max_active_tasks: row.max_active_tasks,
    max_active_runs: row.max_active_runs,
    max_consecutive_failed_dag_runs: 0,
    has_task_concurrency_limits: false,
    has_import_errors: Boolean(row.has_import_errors),
    next_dagrun_logical_date: iso(row.next_dagrun_logical_date),
    next_dagrun_data_interval_start: iso(row.next_dagrun_data_interval_start),
    next_dagrun_data_interval_end: iso(row.next_dagrun_data_interval_end),
    next_dagrun_run_after: iso(row.next_dagrun_run_after),
    owners: row.owners,
    file_token: Buffer.from(row.fileloc).toString("base64url"),
  };
}

export type DagRunQueryRow = DagRunRow & VersionColumns;

/** Seconds between two dates, as Airflow reports durations; null until both are known. */
function seconds(start: Date | null, end: Date | null): number | null {
  return start && end ? (new Date(end).getTime() - new Date(start).getTime()) / 1000 : null;
}

export function dagRunResponse(row: DagRunQueryRow) {
  return {
    dag_run_id: row.run_id,
    dag_id: row.dag_id,
    logical_date: iso(row.logical_date),
    queued_at: iso(row.queued_at),
    start_date: iso(row.start_date),
    end_date: iso(row.end_date),
    duration: seconds(row.start_date, row.end_date),
    data_interval_start: iso(row.data_interval_start),
    data_interval_end: iso(row.data_interval_end),
    run_after: iso(row.run_after),
    last_scheduling_decision: null,
    run_type: row.run_type,
    state: row.state,
    triggered_by: row.triggered_by,
    triggering_user_name: row.triggering_user_name,
    conf: row.conf,
    note: row.note,
    dag_versions: [dagVersionResponse(row.dag_id, row)],
    bundle_version: row.version_bundle_version,
    dag_display_name: row.dag_id,
  };
}

export type TaskInstanceQueryRow = TaskInstanceRow & VersionColumns & { logical_date: Date | null; run_after: Date };

export function taskInstanceResponse(row: TaskInstanceQueryRow) {
  return {
    id: row.id,
    task_id: row.task_id,
    dag_id: row.dag_id,
    dag_run_id: row.run_id,
    map_index: row.map_index,
    logical_date: iso(row.logical_date),
    run_after: iso(row.run_after),
    start_date: iso(row.start_date),
    end_date: iso(row.end_date),
    duration: row.duration,
    state: row.state,
    try_number: row.try_number,
    max_tries: row.max_tries,
    task_display_name: row.task_id,
    dag_display_name: row.dag_id,
    hostname: row.hostname,
    unixname: null,
    pool: row.pool,
    pool_slots: row.pool_slots,
    queue: row.queue,
    priority_weight: row.priority_weight,
    operator: row.operator,
    operator_name: row.operator,
    queued_when: iso(row.queued_when),
    scheduled_when: iso(row.scheduled_when),
    pid: row.pid,
    executor: null,
    executor_config: "{}",
    note: row.note,
    rendered_map_index: null,
    rendered_fields: {},
    trigger: null,
    triggerer_job: null,
    dag_version: dagVersionResponse(row.dag_id, row),
  };
}

export function importErrorResponse(row: { id: number; timestamp: Date; filename: string; stack_trace: string }) {
  return {
    import_error_id: Number(row.id),
    timestamp: iso(row.timestamp),
    filename: row.filename,
    bundle_name: BUNDLE_NAME,
    stack_trace: row.stack_trace,
  };
}

/** Airflow's structured log levels: `warn` is spelled `warning`. */
export function logMessage(line: { ts: Date; stream: string; level: string; line: string }) {
  return {
    timestamp: iso(line.ts),
    event: line.line,
    level: line.level === "warn" ? "warning" : line.level,
    logger: line.stream === "log" ? "task" : `task.${line.stream}`,
  };
}
