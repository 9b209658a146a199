-- Updraft's initial schema. Forward-only: later changes go in new numbered files.

CREATE TABLE dags (
  dag_id            text PRIMARY KEY,
  is_paused         boolean NOT NULL DEFAULT false,
  -- A DAG whose file no longer defines it: kept with its history, not scheduled.
  is_stale          boolean NOT NULL DEFAULT false,
  fileloc           text NOT NULL,
  relative_fileloc  text,
  description       text,
  timetable_summary text,
  timezone          text NOT NULL DEFAULT 'UTC',
  tags              text[] NOT NULL DEFAULT '{}',
  owners            text[] NOT NULL DEFAULT '{}',
  max_active_runs   integer NOT NULL DEFAULT 16,
  max_active_tasks  integer NOT NULL DEFAULT 16,
  latest_version_id uuid,
  last_parsed_time  timestamptz,
  next_dagrun_logical_date         timestamptz,
  next_dagrun_data_interval_start  timestamptz,
  next_dagrun_data_interval_end    timestamptz,
  next_dagrun_run_after            timestamptz,
  created_at        timestamptz NOT NULL DEFAULT now(),
  updated_at        timestamptz NOT NULL DEFAULT now()
);
-- Serves the scheduler's "which DAGs are due" query.
CREATE INDEX dags_due ON dags (next_dagrun_run_after) WHERE NOT is_paused AND NOT is_stale;

-- Source and bundled code of a DAG file, content-addressed: versions of many DAGs share one row.
CREATE TABLE dag_code (
  code_hash  text PRIMARY KEY,
  fileloc    text NOT NULL,
  source     text NOT NULL,
  bundle     text NOT NULL,
  created_at timestamptz NOT NULL DEFAULT now()
);

-- Immutable: a new structure or new code makes a new version; runs are pinned to one.
CREATE TABLE dag_versions (
  id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  dag_id         text NOT NULL REFERENCES dags (dag_id) ON DELETE CASCADE,
  version_number integer NOT NULL,
  content_hash   text NOT NULL,
  code_hash      text NOT NULL REFERENCES dag_code (code_hash),
  structure      jsonb NOT NULL,
  bundle_version text,
  created_at     timestamptz NOT NULL DEFAULT now(),
  UNIQUE (dag_id, version_number),
  UNIQUE (dag_id, content_hash)
);

CREATE TABLE import_errors (
  id          bigserial PRIMARY KEY,
  filename    text NOT NULL UNIQUE,
  line        integer,
  stack_trace text NOT NULL,
  timestamp   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE dag_runs (
  id                  bigserial PRIMARY KEY,
  dag_id              text NOT NULL REFERENCES dags (dag_id) ON DELETE CASCADE,
  run_id              text NOT NULL,
  dag_version_id      uuid NOT NULL REFERENCES dag_versions (id),
  run_type            text NOT NULL CHECK (run_type IN ('manual', 'scheduled', 'backfill', 'asset_triggered')),
  triggered_by        text,
  triggering_user_name text,
  state               text NOT NULL CHECK (state IN ('queued', 'running', 'success', 'failed')),
  logical_date        timestamptz,
  data_interval_start timestamptz,
  data_interval_end   timestamptz,
  run_after           timestamptz NOT NULL,
  queued_at           timestamptz,
  start_date          timestamptz,
  end_date            timestamptz,
  conf                jsonb NOT NULL DEFAULT '{}',
  note                text,
  -- TIs not yet in a finished state. Kept by the same transactions that finish TIs, so that
  -- deciding "is the run done?" costs one row update instead of a count over the run.
  unfinished_tis      integer NOT NULL DEFAULT 0,
  created_at          timestamptz NOT NULL DEFAULT now(),
  updated_at          timestamptz NOT NULL DEFAULT now(),
  UNIQUE (dag_id, run_id)
);
-- No interval ever gets two scheduled runs, whichever scheduler creates them.
CREATE UNIQUE INDEX dag_runs_one_scheduled_per_interval ON dag_runs (dag_id, logical_date) WHERE run_type = 'scheduled';
-- Serves run listings per DAG, newest first.
CREATE INDEX dag_runs_by_dag ON dag_runs (dag_id, run_after DESC);
-- Serves "active runs of this DAG" (maxActiveRuns) and queued-run promotion.
CREATE INDEX dag_runs_active ON dag_runs (dag_id, state, run_after) WHERE state IN ('queued', 'running');

CREATE TABLE task_instances (
  id               uuid PRIMARY KEY DEFAULT gen_random_uuid(),
  run_pk           bigint NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
  dag_id           text NOT NULL,
  run_id           text NOT NULL,
  task_id          text NOT NULL,
  map_index        integer NOT NULL DEFAULT -1,
  -- NULL is Airflow's "none": waiting for upstreams.
  state            text CHECK (state IN ('scheduled', 'queued', 'running', 'success', 'failed', 'up_for_retry',
                     'up_for_reschedule', 'upstream_failed', 'skipped', 'removed', 'restarting')),
  try_number       integer NOT NULL DEFAULT 0,
  max_tries        integer NOT NULL DEFAULT 0,
  dag_version_id   uuid NOT NULL REFERENCES dag_versions (id),
  operator         text,
  pool             text NOT NULL DEFAULT 'default_pool',
  pool_slots       integer NOT NULL DEFAULT 1,
  queue            text NOT NULL DEFAULT 'default',
  priority_weight  integer NOT NULL DEFAULT 1,
  worker_id        text,
  hostname         text,
  pid              integer,
  scheduled_when   timestamptz,
  queued_when      timestamptz,
  start_date       timestamptz,
  end_date         timestamptz,
  duration         double precision,
  heartbeat_at     timestamptz,
  next_retry_at    timestamptz,
  note             text,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (run_pk, task_id, map_index)
);
-- The claim query: queued TIs of a queue, highest priority first. Partial, so it stays as small as the queue.
CREATE INDEX task_instances_queued ON task_instances (queue, priority_weight DESC, queued_when) WHERE state = 'queued';
-- The reaper: running TIs by heartbeat age.
CREATE INDEX task_instances_running ON task_instances (heartbeat_at) WHERE state = 'running';
-- The retry timer: the soonest due retry.
CREATE INDEX task_instances_retry ON task_instances (next_retry_at) WHERE state = 'up_for_retry';
-- Listing a DAG's TIs across runs.
CREATE INDEX task_instances_by_dag ON task_instances (dag_id, task_id);

-- One row per finished try (success, failure, retry), kept forever: the try history.
CREATE TABLE task_instance_tries (
  ti_id       uuid NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
  try_number  integer NOT NULL,
  state       text NOT NULL,
  worker_id   text,
  hostname    text,
  start_date  timestamptz,
  end_date    timestamptz,
  duration    double precision,
  error       text,
  PRIMARY KEY (ti_id, try_number)
);

CREATE TABLE xcom (
  ti_id      uuid NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
  key        text NOT NULL,
  run_pk     bigint NOT NULL,
  task_id    text NOT NULL,
  map_index  integer NOT NULL DEFAULT -1,
  value      jsonb,
  created_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (ti_id, key)
);
-- xcom.pull(task_id) within a run.
CREATE INDEX xcom_by_run ON xcom (run_pk, task_id, key);

CREATE TABLE task_logs (
  id         bigserial PRIMARY KEY,
  ti_id      uuid NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
  try_number integer NOT NULL,
  ts         timestamptz NOT NULL DEFAULT now(),
  stream     text NOT NULL,
  level      text NOT NULL DEFAULT 'info',
  line       text NOT NULL
);
-- Reading one try's log in order.
CREATE INDEX task_logs_by_try ON task_logs (ti_id, try_number, id);

CREATE TABLE users (
  username      text PRIMARY KEY,
  password_hash text NOT NULL,
  role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
  created_at    timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE workers (
  worker_id      text PRIMARY KEY,
  hostname       text NOT NULL,
  pid            integer NOT NULL,
  queues         text[] NOT NULL,
  slots          integer NOT NULL,
  started_at     timestamptz NOT NULL DEFAULT now(),
  last_heartbeat timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE scheduler_heartbeats (
  scheduler_id   text PRIMARY KEY,
  hostname       text NOT NULL,
  last_heartbeat timestamptz NOT NULL DEFAULT now()
);
