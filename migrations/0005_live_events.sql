-- Live events (issue 5 item 5): every TI and run state change and every log line is announced on
-- one NOTIFY channel, `updraft_live`, by triggers — so a change made by any process (scheduler,
-- worker, API, CLI) reaches every web server, and the hot-path code stays untouched.
-- Statement-level triggers with transition tables batch a statement's rows into few NOTIFYs; each
-- payload is a JSON object {"k": kind, "e": [events]} kept under 7,000 bytes (NOTIFY's limit is 8,000).
-- Forward-only.

CREATE FUNCTION updraft_live_flush(events jsonb[], kind text) RETURNS void LANGUAGE plpgsql AS $$
DECLARE
  batch jsonb := '[]'::jsonb;
  size integer := 0;
  ev jsonb;
  ev_size integer;
BEGIN
  IF events IS NULL THEN RETURN; END IF;
  FOREACH ev IN ARRAY events LOOP
    ev_size := octet_length(ev::text) + 1;
    IF ev_size > 6000 THEN
      -- A NOTIFY over 8,000 bytes would fail the writing transaction: shorten, never fail.
      ev := ev || jsonb_build_object('x', true, 'v', left(ev->>'v', 200), 't', left(ev->>'t', 100),
                                     'r', left(ev->>'r', 100), 'd', left(ev->>'d', 100));
      ev_size := octet_length(ev::text) + 1;
      CONTINUE WHEN ev_size > 6000;
    END IF;
    IF size + ev_size > 6900 AND size > 0 THEN
      PERFORM pg_notify('updraft_live', jsonb_build_object('k', kind, 'e', batch)::text);
      batch := '[]'::jsonb;
      size := 0;
    END IF;
    batch := batch || jsonb_build_array(ev);
    size := size + ev_size;
  END LOOP;
  IF size > 0 THEN
    PERFORM pg_notify('updraft_live', jsonb_build_object('k', kind, 'e', batch)::text);
  END IF;
END $$;

-- TI changes that a viewer sees: state, try number, start/end (heartbeats alone are not announced).
CREATE FUNCTION updraft_live_ti_changed() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  events jsonb[];
BEGIN
  SELECT array_agg(jsonb_build_object('d', n.dag_id, 'r', n.run_id, 't', left(n.task_id, 250), 'm', n.map_index,
                                      's', n.state, 'n', n.try_number) ORDER BY n.dag_id)
    INTO events
    FROM live_new_tis n JOIN live_old_tis o ON o.id = n.id
   WHERE n.state IS DISTINCT FROM o.state OR n.try_number <> o.try_number;
  PERFORM updraft_live_flush(events, 'ti');
  RETURN NULL;
END $$;

CREATE TRIGGER task_instances_live AFTER UPDATE ON task_instances
  REFERENCING OLD TABLE AS live_old_tis NEW TABLE AS live_new_tis
  FOR EACH STATEMENT EXECUTE FUNCTION updraft_live_ti_changed();

CREATE FUNCTION updraft_live_run_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  events jsonb[];
BEGIN
  SELECT array_agg(jsonb_build_object('d', n.dag_id, 'r', n.run_id, 's', n.state))
    INTO events FROM live_new_runs n;
  PERFORM updraft_live_flush(events, 'run');
  RETURN NULL;
END $$;

CREATE FUNCTION updraft_live_run_updated() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  events jsonb[];
BEGIN
  SELECT array_agg(jsonb_build_object('d', n.dag_id, 'r', n.run_id, 's', n.state))
    INTO events
    FROM live_new_runs n JOIN live_old_runs o ON o.id = n.id
   WHERE n.state IS DISTINCT FROM o.state OR n.start_date IS DISTINCT FROM o.start_date OR n.end_date IS DISTINCT FROM o.end_date;
  PERFORM updraft_live_flush(events, 'run');
  RETURN NULL;
END $$;

CREATE TRIGGER dag_runs_live_insert AFTER INSERT ON dag_runs
  REFERENCING NEW TABLE AS live_new_runs
  FOR EACH STATEMENT EXECUTE FUNCTION updraft_live_run_inserted();

CREATE TRIGGER dag_runs_live_update AFTER UPDATE ON dag_runs
  REFERENCING OLD TABLE AS live_old_runs NEW TABLE AS live_new_runs
  FOR EACH STATEMENT EXECUTE FUNCTION updraft_live_run_updated();

-- Log lines, each cut to 2,000 characters in the event (the full line stays in task_logs; a
-- browser that needs it reads the logs endpoint). `x` marks a cut line.
CREATE FUNCTION updraft_live_logs_inserted() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  events jsonb[];
BEGIN
  SELECT array_agg(jsonb_build_object('d', ti.dag_id, 'r', ti.run_id, 't', left(ti.task_id, 250), 'm', ti.map_index,
                                      'n', l.try_number, 'i', l.id, 'ts', l.ts, 'st', l.stream, 'l', l.level,
                                      'x', length(l.line) > 2000, 'v', left(l.line, 2000)) ORDER BY l.id)
    INTO events
    FROM live_new_logs l JOIN task_instances ti ON ti.id = l.ti_id;
  PERFORM updraft_live_flush(events, 'log');
  RETURN NULL;
END $$;

CREATE TRIGGER task_logs_live AFTER INSERT ON task_logs
  REFERENCING NEW TABLE AS live_new_logs
  FOR EACH STATEMENT EXECUTE FUNCTION updraft_live_logs_inserted();
