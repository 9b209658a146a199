// Connections in URI form, as UPDRAFT_CONN_<ID> environment variables hold them (Airflow's
// AIRFLOW_CONN_<ID>): `postgres://user:pass@host:5432/db?sslmode=disable`. The scheme is the
// connection type, the path the schema, the query the extra (JSON); user and password are
// percent-decoded. Parsing uses WHATWG URL.

export interface ConnectionFields {
  connType: string;
  host: string | null;
  port: number | null;
  login: string | null;
  password: string | null;
  schema: string | null;
  extra: Record<string, unknown>;
}

/** Airflow writes `postgresql` and `postgres` alike; `-` in a scheme stands for `_` (google-cloud-platform). */
export function parseConnectionUri(uri: string, id: string): ConnectionFields {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    throw new Error(`connection "${id}" from the environment is not a valid URI (expected e.g. postgres://user:pass@host:5432/db)`);
  }
  const extra: Record<string, unknown> = {};
  const extraJson = url.searchParams.get("__extra__");
  if (extraJson !== null) {
    try {
      Object.assign(extra, JSON.parse(extraJson));
    } catch {
      throw new Error(`connection "${id}" from the environment: __extra__ is not JSON`);
    }
  } else {
    for (const [k, v] of url.searchParams) extra[k] = v;
  }
  const schema = decodeURIComponent(url.pathname.replace(/^\//, ""));
  return {
    connType: url.protocol.replace(/:$/, "").replaceAll("-", "_"),
    host: url.hostname ? decodeURIComponent(url.hostname) : null,
    port: url.port ? Number(url.port) : null,
    login: url.username ? decodeURIComponent(url.username) : null,
    password: url.password ? decodeURIComponent(url.password) : null,
    schema: schema || null,
    extra,
  };
}

/** The URI of a connection (Airflow's Connection.get_uri), for clients such as `pg` that take one. */
export function connectionUri(c: ConnectionFields): string {
  const scheme = c.connType.replaceAll("_", "-");
  const auth = c.login !== null || c.password !== null
    ? `${encodeURIComponent(c.login ?? "")}${c.password !== null ? `:${encodeURIComponent(c.password)}` : ""}@`
    : "";
  const host = c.host ?? "";
  const port = c.port !== null ? `:${c.port}` : "";
  const path = c.schema ? `/${encodeURIComponent(c.schema)}` : "";
  const entries = Object.entries(c.extra);
  const flat = entries.every(([, v]) => typeof v === "string");
  const query = !entries.length ? "" : flat
    ? `?${new URLSearchParams(entries as [string, string][]).toString()}`
    : `?${new URLSearchParams({ __extra__: JSON.stringify(c.extra) }).toString()}`;
  return `${scheme}://${auth}${host}${port}${path}${query}`;
}
