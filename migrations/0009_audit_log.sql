-- The audit log (issue 5 item 7): one row per state-changing API call that succeeded, and per
-- login: who (username and role at the time), what (event, method, path, status, the DAG / run /
-- task it touched), when. Served to admins as Airflow's event logs (GET /api/v2/eventLogs).
CREATE TABLE audit_log (
  id             bigserial PRIMARY KEY,
  ts             timestamptz NOT NULL DEFAULT now(),
  username       text,
  role           text,
  event          text NOT NULL,
  method         text NOT NULL,
  path           text NOT NULL,
  status         integer NOT NULL,
  dag_id         text,
  run_id         text,
  task_id        text,
  map_index      integer,
  try_number     integer,
  client_address text,
  extra          jsonb
);
-- GET /api/v2/eventLogs?dag_id=… newest first.
CREATE INDEX audit_log_by_dag ON audit_log (dag_id, id);
-- …?owner=… (who did what).
CREATE INDEX audit_log_by_user ON audit_log (username, id);
