-- Pools, concurrency limits and sensors (issue 4 items 5, 6, 7). Forward-only.
--
-- How limits hold under concurrency (pools' slots, a DAG's max_active_tasks, a task's
-- max_active_tis_per_dag): every claim that can raise an occupancy — a worker's claim, which may
-- pick TIs of any pool or DAG — runs inside updraft_claim_tasks below, which first takes one
-- transaction-scoped advisory lock and only then counts what is running. Claims are thus
-- serialized (each is one short statement), and because a plpgsql statement takes a fresh
-- snapshot after the lock is granted, each claim sees every claim committed before it: no two
-- claimers can both take the last slot. Counters kept in the same transactions were the other
-- option; they would put a hot row (default_pool's) under every finishing transaction until its
-- commit, while the lock is held only by claims and only for one statement. Occupancy goes
-- *down* without the lock (a TI leaving `running` needs no permission), and the worker's
-- hand-off (engine/store/tasks/finishTask.ts) takes a downstream into the slot it frees only
-- when that cannot raise any occupancy: same run (so same DAG), same pool, no more pool slots,
-- and no per-task limit — a swap, so it needs no lock and stays one statement.

CREATE TABLE pools (
  name             text PRIMARY KEY CHECK (name ~ '^[A-Za-z0-9_.-]+$' AND length(name) <= 256),
  slots            integer NOT NULL CHECK (slots >= 0),
  description      text,
  include_deferred boolean NOT NULL DEFAULT false
);
INSERT INTO pools (name, slots, description) VALUES ('default_pool', 128, 'Default pool');

-- A task's maxActiveTisPerDag, copied to its TIs (NULL: no limit) so that a claim reads it
-- without opening the DAG version.
ALTER TABLE task_instances ADD COLUMN max_active_tis_per_dag integer;
-- A sensor's timeout runs from its first poke over all tries and reschedules: set by the first
-- poke, reset by a clear.
ALTER TABLE task_instances ADD COLUMN sensor_started_at timestamptz;
-- When a sensor in reschedule mode is due to poke again (state up_for_reschedule).
ALTER TABLE task_instances ADD COLUMN reschedule_date timestamptz;

-- What occupies slots (running, and restarting: its process still runs until its worker lets
-- go), read by every claim; INCLUDE makes it an index-only scan.
CREATE INDEX task_instances_occupying ON task_instances (pool, dag_id, task_id) INCLUDE (pool_slots, max_active_tis_per_dag)
  WHERE state IN ('running', 'restarting');
-- "Is anything queued that this freed slot may unblock?" (slotFreed.ts): queued TIs by pool, by DAG.
CREATE INDEX task_instances_queued_by_pool ON task_instances (pool) WHERE state = 'queued';
CREATE INDEX task_instances_queued_by_dag ON task_instances (dag_id) WHERE state = 'queued';
-- The claim's pick reads queued TIs in priority order (then oldest) and stops at its window: with
-- this index it reads ~64 rows whatever the queue's length (without it, measured with 3,000
-- queued: every queued row read and sorted, 20.4 ms → 0.53 ms).
CREATE INDEX task_instances_queued_by_priority ON task_instances (priority_weight DESC, queued_when, id) WHERE state = 'queued';
-- The reschedule timer: the soonest due sensor (queueDueReschedules.ts).
CREATE INDEX task_instances_reschedule ON task_instances (reschedule_date) WHERE state = 'up_for_reschedule';

-- Airflow's task_reschedule: one row per poke of a reschedule-mode sensor that ended waiting.
-- Such a poke does not consume a try (the TI keeps its try number), so it is not a row of
-- task_instance_tries; it is kept here, for the record and for the UI.
CREATE TABLE task_reschedules (
  id              bigserial PRIMARY KEY,
  ti_id           uuid NOT NULL REFERENCES task_instances (id) ON DELETE CASCADE,
  try_number      integer NOT NULL,
  start_date      timestamptz NOT NULL,
  end_date        timestamptz NOT NULL,
  duration        double precision NOT NULL,
  reschedule_date timestamptz NOT NULL
);
CREATE INDEX task_reschedules_by_ti ON task_reschedules (ti_id, id);

-- The claim (DESIGN §3) under the limits. First, what is already full (pools, DAGs at
-- max_active_tasks, tasks at max_active_tis_per_dag), from the running TIs. Then, per queue of
-- the worker, the queued TIs in priority order (highest priority_weight across all DAGs, then
-- oldest) straight from the partial index task_instances_queued, skipping those of full pools,
-- DAGs and tasks, a bounded window locked SKIP LOCKED (measured: 20,000 queued TIs, ~0.3 ms; a
-- join before the LIMIT sorted all of them, ~50 ms). The choice among the window applies each
-- limit in turn, each on the survivors of the one before (per task, per DAG, then pool slots as a
-- running sum), then the worker's free slots: every limit's sum over what is taken stays within
-- what it has free. A TI naming a pool that does not exist is claimed regardless: the worker
-- fails it with a message that says so (a TI that waits forever would say nothing).
-- It returns each claimed TI with its run's row: read here, after the lock, with this statement's
-- snapshot. A caller joining dag_runs itself would read them with its own, older snapshot (taken
-- before the lock wait) and drop the TIs of runs created meanwhile — claimed, yet never run.
CREATE FUNCTION updraft_claim_tasks(p_worker_id text, p_hostname text, p_queues text[], p_limit integer)
RETURNS TABLE (claimed_ti task_instances, claimed_run dag_runs) LANGUAGE plpgsql AS $$
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
  END LOOP;
END $$;
