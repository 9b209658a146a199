-- updraft_live_watched (0019), which the live-event triggers' WHEN calls once per statement that
-- changes TIs, runs or log lines, was a SQL-language function: PostgreSQL parses and plans a SQL
-- function's body on every call that it does not inline, and a trigger's WHEN never inlines it.
-- In PL/pgSQL the body's plan is made once per session and kept. Measured with perf on the
-- server during the throughput probe (runs of start → 18 → end, 4 worker processes, PostgreSQL):
-- fmgr_sql — parsing and planning this body — was 3.3 % of the machine's CPU (6.5 % of the
-- server's). Same result, same volatility. Forward-only.
CREATE OR REPLACE FUNCTION updraft_live_watched() RETURNS boolean LANGUAGE plpgsql STABLE AS $$
BEGIN
  RETURN EXISTS (SELECT 1 FROM live_watchers WHERE expires_at > now());
END $$;
