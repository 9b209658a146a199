-- The claim's second round only when something is still queued. A round that took some TIs but
-- fewer than the worker's free slots ran a second one (0006 says why: the window may have been
-- filled by TIs of a DAG or task with room for only a few) — also when the queue had nothing
-- more, the common case of a worker with free slots: a chain's every first task, a queue emptier
-- than the slots. That second round re-read the slots' occupancy and the queue for nothing. Now
-- an index probe of the queued TIs decides (task_instances_queued, queue first). Forward-only.
CREATE OR REPLACE FUNCTION updraft_claim_tasks(p_worker_id text, p_hostname text, p_queues text[], p_limit integer)
RETURNS TABLE (claimed_ti task_instances, claimed_run dag_runs) LANGUAGE plpgsql
-- As 0012 set it: CREATE OR REPLACE drops the function's SET clauses unless given again.
SET plan_cache_mode = force_generic_plan AS $$
DECLARE
  taken integer := 0;
  got integer;
  rounds integer := 0;
  full_pools text[];
  full_dags text[];
  full_tasks text[];
BEGIN
  IF p_limit <= 0 THEN RETURN; END IF;
  -- One key for every claim ('updraft.claim' hashed): limits span queues, pools and DAGs.
  PERFORM pg_advisory_xact_lock(7461928374651);
  -- Another round when this one took some but not all it could: the window may have been filled
  -- by TIs of a DAG or task that had room for only a few; now full, they are left out of it.
  LOOP
    rounds := rounds + 1;
    WITH occupying AS (
      SELECT o.pool, o.dag_id, o.task_id, o.pool_slots, o.max_active_tis_per_dag
        FROM task_instances o WHERE o.state IN ('running', 'restarting')
    )
    SELECT coalesce((SELECT array_agg(p.name) FROM pools p
                      WHERE p.slots <= coalesce((SELECT sum(x.pool_slots) FROM occupying x WHERE x.pool = p.name), 0)), '{}'),
           coalesce((SELECT array_agg(u.dag_id) FROM (SELECT x.dag_id, count(*) AS n FROM occupying x GROUP BY x.dag_id) u
                       JOIN dags d ON d.dag_id = u.dag_id WHERE u.n >= d.max_active_tasks), '{}'),
           coalesce((SELECT array_agg(u.k) FROM (SELECT x.dag_id || chr(31) || x.task_id AS k FROM occupying x
                      WHERE x.max_active_tis_per_dag IS NOT NULL GROUP BY x.dag_id, x.task_id
                     HAVING count(*) >= min(x.max_active_tis_per_dag)) u), '{}')
      INTO full_pools, full_dags, full_tasks;

    RETURN QUERY
    WITH occupying AS (
      SELECT o.pool, o.dag_id, o.task_id, o.pool_slots FROM task_instances o WHERE o.state IN ('running', 'restarting')
    ), pool_used AS (
      SELECT pool, sum(pool_slots)::integer AS used FROM occupying GROUP BY pool
    ), dag_used AS (
      SELECT dag_id, count(*)::integer AS used FROM occupying GROUP BY dag_id
    ), task_used AS (
      SELECT dag_id, task_id, count(*)::integer AS used FROM occupying GROUP BY dag_id, task_id
    ), candidates AS MATERIALIZED (
      SELECT w.* FROM unnest(p_queues) AS q(name) CROSS JOIN LATERAL (
        SELECT ti.id, ti.pool, ti.pool_slots, ti.dag_id, ti.task_id, ti.priority_weight, ti.queued_when, ti.max_active_tis_per_dag
          FROM task_instances ti
         WHERE ti.state = 'queued' AND ti.queue = q.name
           AND ti.pool <> ALL (full_pools) AND ti.dag_id <> ALL (full_dags)
           AND (ti.max_active_tis_per_dag IS NULL OR ti.dag_id || chr(31) || ti.task_id <> ALL (full_tasks))
         ORDER BY ti.priority_weight DESC, ti.queued_when
         LIMIT greatest((p_limit - taken) * 4, 64)
           FOR UPDATE SKIP LOCKED
      ) w
    ), scored AS (
      SELECT c.id, c.pool, c.pool_slots, c.dag_id, c.task_id, c.priority_weight, c.queued_when,
             p.name IS NULL AS pool_missing,
             coalesce(p.slots, 0) - coalesce(pu.used, 0) AS pool_free,
             coalesce(d.max_active_tasks, 2147483647) - coalesce(du.used, 0) AS dag_free,
             coalesce(c.max_active_tis_per_dag, 2147483647) - coalesce(tu.used, 0) AS task_free
        FROM candidates c
        LEFT JOIN pools p ON p.name = c.pool
        LEFT JOIN pool_used pu ON pu.pool = c.pool
        LEFT JOIN dags d ON d.dag_id = c.dag_id
        LEFT JOIN dag_used du ON du.dag_id = c.dag_id
        LEFT JOIN task_used tu ON tu.dag_id = c.dag_id AND tu.task_id = c.task_id
    ), per_task AS (
      SELECT s.*, row_number() OVER (PARTITION BY s.dag_id, s.task_id ORDER BY s.priority_weight DESC, s.queued_when, s.id) AS n
        FROM scored s
    ), per_dag AS (
      SELECT t.*, row_number() OVER (PARTITION BY t.dag_id ORDER BY t.priority_weight DESC, t.queued_when, t.id) AS n2
        FROM per_task t WHERE t.n <= t.task_free
    ), per_pool AS (
      SELECT g.*, sum(g.pool_slots) OVER (PARTITION BY g.pool ORDER BY g.priority_weight DESC, g.queued_when, g.id
                                          ROWS UNBOUNDED PRECEDING) AS slots_sum
        FROM per_dag g WHERE g.n2 <= g.dag_free
    ), picked AS (
      SELECT x.id FROM per_pool x
       WHERE x.pool_missing OR x.slots_sum <= x.pool_free
       ORDER BY x.priority_weight DESC, x.queued_when, x.id
       LIMIT p_limit - taken
    )
    UPDATE task_instances ti
       -- clock_timestamp(), not now(): now() is when the calling statement began, before it waited
       -- for the claim lock, so a start_date from it would precede the end of the TI whose slot it took.
       SET state = 'running', try_number = ti.try_number + 1, worker_id = p_worker_id, hostname = p_hostname,
           start_date = clock_timestamp(), end_date = NULL, duration = NULL, heartbeat_at = clock_timestamp(), updated_at = clock_timestamp()
      FROM picked, dag_runs r
     WHERE ti.id = picked.id AND ti.state = 'queued' AND r.id = ti.run_pk
    RETURNING ti, r;
    GET DIAGNOSTICS got = ROW_COUNT;
    taken := taken + got;
    EXIT WHEN got = 0 OR taken >= p_limit OR rounds >= 4;
    -- Nothing left queued in these queues (what this round took is running now): another round
    -- would find nothing.
    EXIT WHEN NOT EXISTS (SELECT 1 FROM task_instances q WHERE q.state = 'queued' AND q.queue = ANY (p_queues));
  END LOOP;
END $$;
