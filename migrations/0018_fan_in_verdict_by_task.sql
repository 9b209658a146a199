-- updraft_fan_in_verdict (0016) read the other upstreams with `task_id = ANY (p_others)` beside
-- the run: its cached plan probed the unique index (run_pk, task_id, map_index) by run_pk and
-- map_index only, and filtered task_id — every TI of the run on every fan-in upstream's end
-- (auto_explain: 9,999 index entries read and dropped per call in a run of 10,000 tasks; the
-- scheduler-scaling benchmark's PostgreSQL CPU per TI grew 3.5× from 100 to 10,000 tasks). Now
-- each upstream is one equality probe on all three columns: a LATERAL lookup per listed task,
-- kept from being flattened into a join by OFFSET 0 — as a plain join, PGlite (which keeps no
-- statistics) planned the run's TIs as the outer side, the same scan. Forward-only.
CREATE OR REPLACE FUNCTION updraft_fan_in_verdict(p_run_pk bigint, p_others text[]) RETURNS text
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
  n_success integer;
  n_open integer;
  n_rows integer;
BEGIN
  SELECT count(*) FILTER (WHERE u.state = 'success')::int,
         count(*) FILTER (WHERE u.state IS NULL OR u.state NOT IN ('success', 'failed', 'upstream_failed', 'skipped', 'removed'))::int,
         count(*)::int
    INTO n_success, n_open, n_rows
    FROM unnest(p_others) AS o(task_id)
   CROSS JOIN LATERAL (SELECT x.state FROM task_instances x
                        WHERE x.run_pk = p_run_pk AND x.task_id = o.task_id AND x.map_index = -1 OFFSET 0) u;
  IF n_rows = cardinality(p_others) AND n_success = n_rows THEN RETURN 'ready'; END IF;
  IF n_rows = cardinality(p_others) AND n_success + n_open = n_rows THEN RETURN 'wait'; END IF;
  RAISE EXCEPTION 'fan-in of run % has an upstream that did not succeed: the general path settles it', p_run_pk
    USING ERRCODE = 'UD001';
END $$;
