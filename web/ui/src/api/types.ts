// The Airflow REST API v2 shapes the UI reads (../shared/airflow-api), and the /ui endpoints'.
export interface Dag {
  dag_id: string;
  is_paused: boolean;
  description: string | null;
  timetable_summary: string | null;
  tags: { name: string }[];
  owners: string[];
  next_dagrun_logical_date: string | null;
  next_dagrun_run_after: string | null;
  has_import_errors: boolean;
  fileloc: string;
  max_active_runs: number;
}

export interface DagRun {
  dag_run_id: string;
  dag_id: string;
  logical_date: string | null;
  queued_at: string | null;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  run_after: string;
  run_type: string;
  state: string;
  triggered_by: string | null;
  triggering_user_name: string | null;
  conf: Record<string, unknown> | null;
  note: string | null;
  data_interval_start: string | null;
  data_interval_end: string | null;
  dag_versions: { version_number: number }[];
}

export interface TaskInstance {
  id: string;
  task_id: string;
  dag_id: string;
  dag_run_id: string;
  map_index: number;
  start_date: string | null;
  end_date: string | null;
  duration: number | null;
  state: string | null;
  try_number: number;
  max_tries: number;
  hostname: string | null;
  pool: string;
  queue: string;
  operator: string | null;
  queued_when: string | null;
  scheduled_when: string | null;
  priority_weight: number;
}

export interface LogMessage {
  timestamp: string | null;
  event: string;
  level: string;
  logger?: string;
}

export interface ImportError {
  import_error_id: number;
  timestamp: string;
  filename: string;
  stack_trace: string;
}

export interface ParamSpec {
  type?: string;
  default?: unknown;
  enum?: unknown[];
  minimum?: number;
  maximum?: number;
  description?: string;
  title?: string;
}

export interface Structure {
  dag_id: string;
  version_number: number;
  description: string | null;
  doc_md: string | null;
  timezone: string;
  schedule: unknown;
  start_date: string | null;
  end_date: string | null;
  catchup: boolean;
  max_active_runs: number;
  max_active_tasks: number;
  params: Record<string, ParamSpec>;
  tags: string[];
  owners: string[];
  tasks: { task_id: string; operator: string; upstream: string[]; downstream: string[]; trigger_rule: string; retries: number; pool: string; queue: string; doc_md: string | null }[];
}

export interface Grid {
  dag_id: string;
  legend: Record<string, string>;
  task_ids: string[];
  runs: { dag_run_id: string; state: string; run_type: string; logical_date: string | null; run_after: string; start_date: string | null; end_date: string | null }[];
  cells: string[];
  total_runs: number;
  /** Parallel to task_ids: the task's group path (d.group), null outside groups. */
  groups?: (string | null)[];
  /** Mapped task → per run, its TIs counted by state code (null: not expanded in that run). */
  mapped_counts?: Record<string, (Record<string, number> | null)[]>;
}

export interface Backfill {
  id: number;
  dag_id: string;
  from_date: string;
  to_date: string;
  is_paused: boolean;
  completed_at: string | null;
  created_at: string;
  max_active_runs: number;
  reprocess_behavior: string;
}
