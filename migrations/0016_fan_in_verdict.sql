-- A fan-in's upstream end in one statement (engine/store/tasks/finishTask.ts). The end of a task
-- whose downstream task has other upstreams took the general path: BEGIN, the TI's write with the
-- downstream TIs locked, the upstream states read in a statement of its own, the writes, the swap,
-- COMMIT — six round trips, the downstream TI's row and the run's row held across all of them. A
-- fan-in's siblings (the 18 middle tasks of a run start → 18 → end) queued up on that lock: 360
-- TIs/s for runs of 20 where a fan-out of the same size ran 890/s.
--
-- Why a function: the other upstreams' states must be read AFTER the downstream TI's row lock is
-- granted. A sibling that finished meanwhile held that lock until it committed; a read with the
-- statement's own snapshot, taken before the wait, would still see it running, and two siblings
-- finishing together would each see the other running and neither would queue the fan-in. A
-- VOLATILE PL/pgSQL function takes a new snapshot for each statement it runs (READ COMMITTED), so
-- called for a row after the row was locked, it sees every sibling that committed before.
--
-- Only for the all_success rule over unmapped upstreams (the caller, finishTask's fastPlan,
-- decides that): 'ready' when every other upstream TI is in success, 'wait' while any is unfinished
-- and none ended otherwise. Any other case — an upstream failed, skipped, removed or missing — is
-- for the general path to settle (skipped or upstream_failed, and their cascade): the function
-- then raises SQLSTATE UD001 and the whole statement is rolled back, writing nothing; finishTask
-- runs the general path instead. The caller's own TI is not read: it is in success, written by
-- the same statement. Forward-only.
CREATE FUNCTION updraft_fan_in_verdict(p_run_pk bigint, p_others text[]) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n_success integer;
  n_open integer;
  n_rows integer;
BEGIN
  -- One probe per upstream on the unique index (run_pk, task_id, map_index).
  SELECT count(*) FILTER (WHERE u.state = 'success')::int,
         count(*) FILTER (WHERE u.state IS NULL OR u.state NOT IN ('success', 'failed', 'upstream_failed', 'skipped', 'removed'))::int,
         count(*)::int
    INTO n_success, n_open, n_rows
    FROM task_instances u
   WHERE u.run_pk = p_run_pk AND u.task_id = ANY (p_others) AND u.map_index = -1;
  IF n_rows = cardinality(p_others) AND n_success = n_rows THEN RETURN 'ready'; END IF;
  IF n_rows = cardinality(p_others) AND n_success + n_open = n_rows THEN RETURN 'wait'; END IF;
  RAISE EXCEPTION 'fan-in of run % has an upstream that did not succeed: the general path settles it', p_run_pk
    USING ERRCODE = 'UD001';
END $$;
