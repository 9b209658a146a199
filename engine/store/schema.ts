// Kysely's view of the tables in migrations/. Keep in step with the SQL files.
import type { ColumnType, Generated, Insertable, Selectable } from "kysely";
import type { DagStructure } from "../model/structure.js";

type Timestamp = ColumnType<Date, Date | string, Date | string>;
type DefaultTimestamp = ColumnType<Date, Date | string | undefined, Date | string>;
type Json<T> = ColumnType<T, string, string>;

export interface DagsTable {
  dag_id: string;
  is_paused: Generated<boolean>;
  is_stale: Generated<boolean>;
  fileloc: string;
  relative_fileloc: string | null;
  description: string | null;
  timetable_summary: string | null;
  timezone: Generated<string>;
  tags: Generated<string[]>;
  owners: Generated<string[]>;
  max_active_runs: Generated<number>;
  max_active_tasks: Generated<number>;
  latest_version_id: string | null;
  last_parsed_time: Timestamp | null;
  next_dagrun_logical_date: Timestamp | null;
  next_dagrun_data_interval_start: Timestamp | null;
  next_dagrun_data_interval_end: Timestamp | null;
  next_dagrun_run_after: Timestamp | null;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface DagCodeTable {
  code_hash: string;
  fileloc: string;
  source: string;
  bundle: string;
  created_at: DefaultTimestamp;
}

export interface DagVersionsTable {
  id: Generated<string>;
  dag_id: string;
  version_number: number;
  content_hash: string;
  code_hash: string;
  structure: Json<DagStructure>;
  bundle_version: string | null;
  created_at: DefaultTimestamp;
}

export interface ImportErrorsTable {
  id: Generated<number>;
  filename: string;
  line: number | null;
  stack_trace: string;
  timestamp: DefaultTimestamp;
}

export interface DagRunsTable {
  id: Generated<number>;
  dag_id: string;
  run_id: string;
  dag_version_id: string;
  run_type: "manual" | "scheduled" | "backfill" | "asset_triggered";
  triggered_by: string | null;
  triggering_user_name: string | null;
  state: "queued" | "running" | "success" | "failed";
  logical_date: Timestamp | null;
  data_interval_start: Timestamp | null;
  data_interval_end: Timestamp | null;
  run_after: Timestamp;
  queued_at: Timestamp | null;
  start_date: Timestamp | null;
  end_date: Timestamp | null;
  conf: Json<Record<string, unknown>>;
  note: string | null;
  unfinished_tis: Generated<number>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
  backfill_id: number | null;
  backfill_sort_ordinal: number | null;
  clear_number: Generated<number>;
}

export type ReprocessBehavior = "none" | "failed" | "completed";

export interface BackfillsTable {
  id: Generated<number>;
  dag_id: string;
  from_date: Timestamp;
  to_date: Timestamp;
  run_backwards: Generated<boolean>;
  dag_run_conf: Json<Record<string, unknown>>;
  reprocess_behavior: ReprocessBehavior;
  max_active_runs: number;
  is_paused: Generated<boolean>;
  triggering_user_name: string | null;
  created_at: DefaultTimestamp;
  completed_at: Timestamp | null;
  updated_at: DefaultTimestamp;
}

export interface BackfillDagRunsTable {
  backfill_id: number;
  logical_date: Timestamp;
  sort_ordinal: number;
  dag_run_id: number | null;
  exception_reason: string | null;
}

export interface TaskInstancesTable {
  id: Generated<string>;
  run_pk: number;
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: Generated<number>;
  state: string | null;
  try_number: Generated<number>;
  max_tries: Generated<number>;
  dag_version_id: string;
  operator: string | null;
  pool: Generated<string>;
  pool_slots: Generated<number>;
  queue: Generated<string>;
  priority_weight: Generated<number>;
  worker_id: string | null;
  hostname: string | null;
  pid: number | null;
  scheduled_when: Timestamp | null;
  queued_when: Timestamp | null;
  start_date: Timestamp | null;
  end_date: Timestamp | null;
  duration: number | null;
  heartbeat_at: Timestamp | null;
  next_retry_at: Timestamp | null;
  note: string | null;
  updated_at: DefaultTimestamp;
  /** migrations/0006_pools.sql: the task's maxActiveTisPerDag (null: no limit). */
  max_active_tis_per_dag: number | null;
  /** A sensor's first poke (its timeout runs from here, over tries and reschedules). */
  sensor_started_at: Timestamp | null;
  /** A sensor in up_for_reschedule pokes again at this time. */
  reschedule_date: Timestamp | null;
}

/** migrations/0006_pools.sql */
export interface PoolsTable {
  name: string;
  slots: number;
  description: string | null;
  include_deferred: Generated<boolean>;
}

/** One poke of a reschedule-mode sensor that ended waiting (migrations/0006_pools.sql). */
export interface TaskReschedulesTable {
  id: Generated<number>;
  ti_id: string;
  try_number: number;
  start_date: Timestamp;
  end_date: Timestamp;
  duration: number;
  reschedule_date: Timestamp;
}

export interface TaskInstanceTriesTable {
  ti_id: string;
  try_number: number;
  state: string;
  worker_id: string | null;
  hostname: string | null;
  start_date: Timestamp | null;
  end_date: Timestamp | null;
  duration: number | null;
  error: string | null;
}

export interface XcomTable {
  ti_id: string;
  key: string;
  run_pk: number;
  task_id: string;
  map_index: Generated<number>;
  value: Json<unknown>;
  created_at: DefaultTimestamp;
}

/** migrations/0007: `val` is ciphertext (engine/secrets/cipher.ts). */
export interface VariablesTable {
  id: Generated<number>;
  key: string;
  val: string;
  description: string | null;
  is_encrypted: Generated<boolean>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

/** migrations/0007: `password` and `extra` are ciphertext (engine/secrets/cipher.ts). */
export interface ConnectionsTable {
  id: Generated<number>;
  conn_id: string;
  conn_type: string;
  description: string | null;
  host: string | null;
  schema: string | null;
  login: string | null;
  password: string | null;
  port: number | null;
  extra: string | null;
  is_encrypted: Generated<boolean>;
  is_extra_encrypted: Generated<boolean>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface TaskLogsTable {
  id: Generated<number>;
  ti_id: string;
  try_number: number;
  ts: DefaultTimestamp;
  stream: string;
  level: Generated<string>;
  line: string;
}

/** migrations/0009: one row per successful state-changing API call or login. */
export interface AuditLogTable {
  id: Generated<number>;
  ts: DefaultTimestamp;
  username: string | null;
  role: string | null;
  event: string;
  method: string;
  path: string;
  status: number;
  dag_id: string | null;
  run_id: string | null;
  task_id: string | null;
  map_index: number | null;
  try_number: number | null;
  client_address: string | null;
  extra: Json<Record<string, unknown>> | null;
}

export interface UsersTable {
  username: string;
  password_hash: string;
  role: "viewer" | "operator" | "admin";
  created_at: DefaultTimestamp;
}

export interface WorkersTable {
  worker_id: string;
  hostname: string;
  pid: number;
  queues: string[];
  slots: number;
  started_at: DefaultTimestamp;
  last_heartbeat: DefaultTimestamp;
}

/** A web server with live clients (migrations/0019): the live-event triggers fire while a row is unexpired. */
export interface LiveWatchersTable {
  server_id: string;
  expires_at: Date;
}

export interface SchedulerHeartbeatsTable {
  scheduler_id: string;
  hostname: string;
  last_heartbeat: DefaultTimestamp;
}

/** migrations/0010_models_metrics.sql: `ctx.metrics.log` points, per TI try. */
export interface TaskMetricsTable {
  id: Generated<number>;
  ti_id: string;
  try_number: number;
  run_pk: number;
  dag_id: string;
  task_id: string;
  map_index: Generated<number>;
  name: string;
  value: number;
  step: number | null;
  logged_at: DefaultTimestamp;
}

export interface ModelsTable {
  name: string;
  created_at: DefaultTimestamp;
}

export type ModelStage = "none" | "production" | "archived";

export interface ModelVersionsTable {
  id: Generated<number>;
  model_name: string;
  version: number;
  artifact_path: string;
  feature_schema: Json<Record<string, unknown>>;
  metrics: Json<Record<string, unknown>>;
  params: Json<Record<string, unknown>>;
  source_dag_id: string | null;
  source_run_id: string | null;
  source_task_id: string | null;
  source_try_number: number | null;
  stage: Generated<ModelStage>;
  created_at: DefaultTimestamp;
  updated_at: DefaultTimestamp;
}

export interface Database {
  task_metrics: TaskMetricsTable;
  models: ModelsTable;
  model_versions: ModelVersionsTable;
  dags: DagsTable;
  dag_code: DagCodeTable;
  dag_versions: DagVersionsTable;
  import_errors: ImportErrorsTable;
  dag_runs: DagRunsTable;
  backfills: BackfillsTable;
  backfill_dag_runs: BackfillDagRunsTable;
  task_instances: TaskInstancesTable;
  task_instance_tries: TaskInstanceTriesTable;
  pools: PoolsTable;
  task_reschedules: TaskReschedulesTable;
  xcom: XcomTable;
  task_logs: TaskLogsTable;
  variables: VariablesTable;
  connections: ConnectionsTable;
  users: UsersTable;
  audit_log: AuditLogTable;
  workers: WorkersTable;
  live_watchers: LiveWatchersTable;
  scheduler_heartbeats: SchedulerHeartbeatsTable;
}

export type DagRunRow = Selectable<DagRunsTable>;
export type TaskInstanceRow = Selectable<TaskInstancesTable>;
export type DagRow = Selectable<DagsTable>;
export type BackfillRow = Selectable<BackfillsTable>;
export type NewTaskInstance = Insertable<TaskInstancesTable>;
