-- Scheduling (issue 3): backfills owned by the scheduler, cleared runs, run ordering for
-- depends_on_past. Forward-only.

-- Airflow 3's backfill: a range of logical dates the scheduler runs as `backfill` runs, at most
-- max_active_runs at once. Survives the client going away and scheduler restarts: all its state is here.
CREATE TABLE backfills (
  id                   bigserial PRIMARY KEY,
  dag_id               text NOT NULL REFERENCES dags (dag_id) ON DELETE CASCADE,
  from_date            timestamptz NOT NULL,
  to_date              timestamptz NOT NULL,
  run_backwards        boolean NOT NULL DEFAULT false,
  dag_run_conf         jsonb NOT NULL DEFAULT '{}',
  reprocess_behavior   text NOT NULL DEFAULT 'none' CHECK (reprocess_behavior IN ('none', 'failed', 'completed')),
  max_active_runs      integer NOT NULL DEFAULT 10 CHECK (max_active_runs >= 1),
  is_paused            boolean NOT NULL DEFAULT false,
  triggering_user_name text,
  created_at           timestamptz NOT NULL DEFAULT now(),
  completed_at         timestamptz,
  updated_at           timestamptz NOT NULL DEFAULT now()
);
-- One active backfill per DAG, whoever creates it (a second → 409).
CREATE UNIQUE INDEX backfills_one_active_per_dag ON backfills (dag_id) WHERE completed_at IS NULL;
-- GET /backfills?dag_id=…
CREATE INDEX backfills_by_dag ON backfills (dag_id, id);

-- Every logical date a backfill covers, with the run it made (or reused), or why it made none.
CREATE TABLE backfill_dag_runs (
  backfill_id      bigint NOT NULL REFERENCES backfills (id) ON DELETE CASCADE,
  logical_date     timestamptz NOT NULL,
  sort_ordinal     integer NOT NULL,
  dag_run_id       bigint REFERENCES dag_runs (id) ON DELETE SET NULL,
  exception_reason text,
  PRIMARY KEY (backfill_id, logical_date)
);

ALTER TABLE dag_runs ADD COLUMN backfill_id bigint REFERENCES backfills (id) ON DELETE SET NULL;
-- Order within a backfill (oldest first, or newest first with run_backwards).
ALTER TABLE dag_runs ADD COLUMN backfill_sort_ordinal integer;
-- How many times the run was cleared; a cleared run restarts on its existing TIs (keeping tries).
ALTER TABLE dag_runs ADD COLUMN clear_number integer NOT NULL DEFAULT 0;
-- Serves startQueuedRuns' "queued runs of this backfill, in order".
CREATE INDEX dag_runs_by_backfill ON dag_runs (backfill_id, state, backfill_sort_ordinal) WHERE backfill_id IS NOT NULL;
-- Serves depends_on_past's "previous/next run of this DAG by logical date".
CREATE INDEX dag_runs_by_logical_date ON dag_runs (dag_id, logical_date);
