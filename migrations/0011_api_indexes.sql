-- Indexes the API's list endpoints need at scale (issue 9 scenario 6, bench/scenarios/api.ts).
-- Forward-only.

-- GET /dags/~/dagRuns/~/taskInstances?order_by=-start_date (the "recent task instances" view):
-- without it every page sorted all TIs — 1.1 s over 1,000,000 TIs (a parallel seq scan, a hash
-- join with dag_runs and a top-N sort); with it the page is a backward index scan that stops after
-- offset + limit rows, 1.5 ms. `id` is the list's tiebreak (web/server/query.ts orderClauses), so
-- `start_date DESC, id DESC` is this index read backwards, NULLs (not yet started) first as
-- PostgreSQL orders DESC.
CREATE INDEX task_instances_by_start_date ON task_instances (start_date, id);
