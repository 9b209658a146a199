-- A manual run's start in one round trip (engine/store/runs/createRun.ts). Creating a run that
-- starts at once took four: BEGIN, the DAG's row lock with its active-run counts, the run and its
-- TIs, COMMIT — on the trigger → first task path, where each costs as much as a hand-off's
-- statement. As a function called in a statement of its own, it is one round trip and one commit.
--
-- Why a function and not one statement: the counts must be read AFTER the DAG's row lock is
-- granted. In one statement they would come from its snapshot, taken before a wait for the lock,
-- and miss a run that the lock's previous holder just committed (two triggers at once would then
-- both start under maxActiveRuns = 1). In PL/pgSQL under READ COMMITTED each statement takes a
-- new snapshot, so the count below sees every run committed before the lock was granted.
--
-- It starts the run only when it may start at once: the DAG exists, its latest version is the one
-- the caller validated conf against (p_version_id; unless the caller pins a version), it is
-- unpaused, under max_active_runs with no run queued before this one and no backfill in progress.
-- Otherwise it writes nothing and says why: the caller then takes the general path in a
-- transaction. createRunInTx calls it too, for its own fast path (the caller computes the TIs
-- with taskInstanceFields). Forward-only.
CREATE FUNCTION updraft_start_run(
  p_dag_id text, p_version_id uuid, p_pinned boolean, p_run_id text, p_run_type text, p_triggered_by text,
  p_triggering_user_name text, p_logical_date timestamptz, p_data_interval_start timestamptz,
  p_data_interval_end timestamptz, p_run_after timestamptz, p_conf jsonb, p_note text, p_tis jsonb, p_queues text[])
RETURNS TABLE (status text, run dag_runs) LANGUAGE plpgsql AS $$
DECLARE
  d dags;
  n_running integer;
  n_queued integer;
  backfilling boolean;
  r dag_runs;
  q text;
BEGIN
  SELECT * INTO d FROM dags WHERE dag_id = p_dag_id FOR UPDATE;
  IF NOT FOUND THEN RETURN QUERY SELECT 'no_dag'::text, NULL::dag_runs; RETURN; END IF;
  IF NOT p_pinned AND d.latest_version_id IS DISTINCT FROM p_version_id THEN
    RETURN QUERY SELECT 'stale_version'::text, NULL::dag_runs; RETURN;
  END IF;
  SELECT count(*) FILTER (WHERE x.state = 'running' AND x.backfill_id IS NULL)::int,
         count(*) FILTER (WHERE x.state = 'queued' AND x.backfill_id IS NULL)::int,
         coalesce(bool_or(x.backfill_id IS NOT NULL), false)
    INTO n_running, n_queued, backfilling
    FROM dag_runs x WHERE x.dag_id = p_dag_id AND x.state IN ('queued', 'running');
  IF d.is_paused OR n_running >= d.max_active_runs OR n_queued > 0 OR backfilling THEN
    RETURN QUERY SELECT 'not_startable'::text, NULL::dag_runs; RETURN;
  END IF;
  INSERT INTO dag_runs (dag_id, run_id, dag_version_id, run_type, triggered_by, triggering_user_name, state, logical_date,
                        data_interval_start, data_interval_end, run_after, queued_at, start_date, conf, note, unfinished_tis)
  VALUES (p_dag_id, p_run_id, p_version_id, p_run_type, p_triggered_by, p_triggering_user_name, 'running', p_logical_date,
          p_data_interval_start, p_data_interval_end, p_run_after, now(), now(), p_conf, p_note, jsonb_array_length(p_tis))
  ON CONFLICT DO NOTHING
  RETURNING * INTO r;
  IF NOT FOUND THEN RETURN QUERY SELECT 'conflict'::text, NULL::dag_runs; RETURN; END IF;
  INSERT INTO task_instances (run_pk, dag_id, run_id, task_id, dag_version_id, operator, state, queued_when, max_tries, pool,
                              pool_slots, max_active_tis_per_dag, queue, priority_weight)
  SELECT r.id, r.dag_id, r.run_id, x.task_id, r.dag_version_id, x.operator, x.state, CASE WHEN x.state IS NOT NULL THEN now() END,
         x.max_tries, x.pool, x.pool_slots, x.max_active_tis_per_dag, x.queue, x.priority_weight
    FROM jsonb_to_recordset(p_tis)
         AS x(task_id text, operator text, state text, max_tries int, pool text, pool_slots int, max_active_tis_per_dag int, queue text, priority_weight int);
  FOREACH q IN ARRAY p_queues LOOP
    PERFORM pg_notify('updraft_ti_queued', q);
  END LOOP;
  RETURN QUERY SELECT 'started'::text, r;
END $$;
