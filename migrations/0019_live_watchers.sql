-- The live-event triggers (0005) fire only while someone watches. Unwatched, every statement that
-- changed TIs still built JSON from its transition tables and sent a NOTIFY — and a transaction
-- that NOTIFYs takes a database-wide lock from its pre-commit to the end of its commit (WAL flush
-- included), so every finishing worker queued behind every other one. Measured (throughput
-- benchmark's shapes, 10,000 no-op TIs, 4 worker processes, PostgreSQL, nobody watching):
-- fan-out 633 → 907 TIs/s and the server's CPU per TI 1,952 → 1,298 µs with this gate; without
-- the triggers at all, 915 TIs/s and 1,249 µs.
--
-- A web server holds a row here while it has a socket.io client connected (web/server/
-- liveWatchers.ts): a lease it renews, so that a web server that died stops counting once its row
-- expires. The triggers' WHEN reads it once per statement; the rows a statement changed are still
-- captured into its transition tables, but nothing is built or sent from them.
-- Forward-only.
CREATE TABLE live_watchers (
  server_id   text PRIMARY KEY,
  expires_at  timestamptz NOT NULL
);

-- Whether any web server has a live client now. STABLE: read once per statement.
CREATE FUNCTION updraft_live_watched() RETURNS boolean LANGUAGE sql STABLE AS $$
  SELECT EXISTS (SELECT 1 FROM live_watchers WHERE expires_at > now())
$$;

DROP TRIGGER task_instances_live ON task_instances;
CREATE TRIGGER task_instances_live AFTER UPDATE ON task_instances
  REFERENCING OLD TABLE AS live_old_tis NEW TABLE AS live_new_tis
  FOR EACH STATEMENT WHEN (updraft_live_watched()) EXECUTE FUNCTION updraft_live_ti_changed();

DROP TRIGGER dag_runs_live_insert ON dag_runs;
CREATE TRIGGER dag_runs_live_insert AFTER INSERT ON dag_runs
  REFERENCING NEW TABLE AS live_new_runs
  FOR EACH STATEMENT WHEN (updraft_live_watched()) EXECUTE FUNCTION updraft_live_run_inserted();

DROP TRIGGER dag_runs_live_update ON dag_runs;
CREATE TRIGGER dag_runs_live_update AFTER UPDATE ON dag_runs
  REFERENCING OLD TABLE AS live_old_runs NEW TABLE AS live_new_runs
  FOR EACH STATEMENT WHEN (updraft_live_watched()) EXECUTE FUNCTION updraft_live_run_updated();

DROP TRIGGER task_logs_live ON task_logs;
CREATE TRIGGER task_logs_live AFTER INSERT ON task_logs
  REFERENCING NEW TABLE AS live_new_logs
  FOR EACH STATEMENT WHEN (updraft_live_watched()) EXECUTE FUNCTION updraft_live_logs_inserted();
