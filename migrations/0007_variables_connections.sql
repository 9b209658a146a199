-- Variables and connections (issue 4 item 10), Airflow's `variable` and `connection` tables.
-- Variable values, connection passwords and connection extras are stored encrypted
-- (engine/secrets/cipher.ts: AES-256-GCM under a key derived from UPDRAFT_SECRET_KEY); the
-- `is_encrypted` flags say so, as Airflow's do. Forward-only.

CREATE TABLE variables (
  -- Airflow orders these endpoints by `id` by default; the key is what clients address.
  id           bigserial PRIMARY KEY,
  key          text NOT NULL UNIQUE CHECK (length(key) BETWEEN 1 AND 250),
  val          text NOT NULL,
  description  text,
  is_encrypted boolean NOT NULL DEFAULT true,
  created_at   timestamptz NOT NULL DEFAULT now(),
  updated_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE connections (
  id                 bigserial PRIMARY KEY,
  conn_id            text NOT NULL UNIQUE CHECK (conn_id ~ '^[A-Za-z0-9_.-]{1,200}$'),
  conn_type          text NOT NULL,
  description        text,
  host               text,
  schema             text,
  login              text,
  password           text,
  port               integer,
  extra              text,
  is_encrypted       boolean NOT NULL DEFAULT true,
  is_extra_encrypted boolean NOT NULL DEFAULT true,
  created_at         timestamptz NOT NULL DEFAULT now(),
  updated_at         timestamptz NOT NULL DEFAULT now()
);
