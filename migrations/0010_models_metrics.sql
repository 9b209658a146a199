-- Issue 7: run metrics (`ctx.metrics.log`) and the model registry behind /api/v2/models.
-- Forward-only.

-- One row per `ctx.metrics.log(name, value, step?)` call of one try of one TI. Written by the
-- worker after the attempt, fenced on the TI's lease (engine/store/models/recordTaskEffects.ts).
CREATE TABLE task_metrics (
  id          bigserial PRIMARY KEY,
  ti_id       uuid NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
  try_number  integer NOT NULL,
  run_pk      bigint NOT NULL REFERENCES dag_runs (id) ON DELETE CASCADE,
  dag_id      text NOT NULL,
  task_id     text NOT NULL,
  map_index   integer NOT NULL DEFAULT -1,
  name        text NOT NULL,
  value       double precision NOT NULL,
  step        integer,
  logged_at   timestamptz NOT NULL DEFAULT now()
);
-- The run page: every metric of one run.
CREATE INDEX task_metrics_run ON task_metrics (run_pk);
-- The latest try of each TI that logged metrics (readMetrics.ts), and the cascade from task_instances.
CREATE INDEX task_metrics_ti ON task_metrics (ti_id, try_number);

CREATE TABLE models (
  name        text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]+$'),
  created_at  timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE model_versions (
  id               bigserial PRIMARY KEY,
  model_name       text NOT NULL REFERENCES models (name) ON DELETE CASCADE,
  version          integer NOT NULL,
  -- The classifier's toJSON() and its feature schema, as a JSON file in the lake.
  artifact_path    text NOT NULL,
  feature_schema   jsonb NOT NULL DEFAULT '{}'::jsonb,
  metrics          jsonb NOT NULL DEFAULT '{}'::jsonb,
  params           jsonb NOT NULL DEFAULT '{}'::jsonb,
  source_dag_id    text,
  source_run_id    text,
  source_task_id   text,
  source_try_number integer,
  stage            text NOT NULL DEFAULT 'none' CHECK (stage IN ('none', 'production', 'archived')),
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now(),
  UNIQUE (model_name, version)
);
-- At most one production version per model; also serves the predict endpoint's "which version
-- serves now" query, run on every prediction to hot-swap without a restart.
CREATE UNIQUE INDEX model_versions_production ON model_versions (model_name) WHERE stage = 'production';
