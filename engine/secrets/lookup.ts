// Where a task's `ctx.variables.get` and `ctx.connections.get` find their values, and which of
// those values are secrets to mask. As with Airflow's environment secrets backend, the
// environment wins: UPDRAFT_VAR_<KEY> and UPDRAFT_CONN_<ID> (upper-cased; a URI or a JSON
// object) before the database. Runs in the worker process, which holds the secret key.
import type { Kysely } from "kysely";
import type { TaskConnection } from "../authoring/types.js";
import type { Database } from "../store/schema.js";
import { readConnection } from "../store/connections/connections.js";
import { readVariable } from "../store/variables/variables.js";
import type { SecretCipher } from "./cipher.js";
import { connectionUri, parseConnectionUri, type ConnectionFields } from "./connectionUri.js";
import { isSensitiveKey } from "./sensitive.js";

export const VAR_ENV_PREFIX = "UPDRAFT_VAR_";
export const CONN_ENV_PREFIX = "UPDRAFT_CONN_";

export interface Resolved<T> {
  value: T;
  /** Values to mask wherever the task may print them. */
  secrets: string[];
}

export function envVariable(env: NodeJS.ProcessEnv, key: string): string | undefined {
  return env[VAR_ENV_PREFIX + key.toUpperCase()];
}

export function envConnection(env: NodeJS.ProcessEnv, connId: string): TaskConnection | undefined {
  const raw = env[CONN_ENV_PREFIX + connId.toUpperCase()];
  if (raw === undefined || raw === "") return undefined;
  return taskConnection(connId, raw.trimStart().startsWith("{") ? jsonConnection(raw, connId) : parseConnectionUri(raw.trim(), connId));
}

/** Airflow also accepts AIRFLOW_CONN_<ID> as JSON: {conn_type, host, login, password, schema, port, extra}. */
function jsonConnection(raw: string, connId: string): ConnectionFields {
  let v: Record<string, unknown>;
  try {
    v = JSON.parse(raw) as Record<string, unknown>;
  } catch {
    throw new Error(`connection "${connId}" from ${CONN_ENV_PREFIX}${connId.toUpperCase()} is neither a URI nor valid JSON`);
  }
  const str = (x: unknown) => (typeof x === "string" ? x : null);
  return {
    connType: str(v.conn_type) ?? "generic",
    host: str(v.host),
    port: typeof v.port === "number" ? v.port : v.port ? Number(v.port) : null,
    login: str(v.login),
    password: str(v.password),
    schema: str(v.schema),
    extra: parseExtra(typeof v.extra === "string" ? v.extra : JSON.stringify(v.extra ?? {}), connId),
  };
}

export function parseExtra(extra: string | null, connId: string): Record<string, unknown> {
  if (!extra) return {};
  try {
    const parsed = JSON.parse(extra) as unknown;
    return parsed && typeof parsed === "object" && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : {};
  } catch {
    throw new Error(`the extra of connection "${connId}" is not a JSON object`);
  }
}

export function taskConnection(connId: string, c: ConnectionFields): TaskConnection {
  return { connId, ...c, uri: connectionUri(c) };
}

/**
 * The strings inside `value` that are secret: all of them when `name` looks secret, else those
 * under fields whose names look secret (Airflow's mask_secret(value, name)).
 */
export function secretsIn(value: unknown, name?: string, depth = 0): string[] {
  if (depth > 10 || value === null || value === undefined) return [];
  const hidden = name !== undefined && isSensitiveKey(name);
  if (typeof value === "string" || typeof value === "number") return hidden ? [String(value)] : [];
  if (Array.isArray(value)) return value.flatMap((v) => secretsIn(v, hidden ? name : undefined, depth + 1));
  if (typeof value === "object") return Object.entries(value).flatMap(([k, v]) => secretsIn(v, hidden ? name : k, depth + 1));
  return [];
}

export function variableSecrets(key: string, value: string): string[] {
  if (isSensitiveKey(key)) return [value];
  try {
    return secretsIn(JSON.parse(value) as unknown);
  } catch {
    return [];
  }
}

export function connectionSecrets(c: TaskConnection): string[] {
  return [...(c.password ? [c.password] : []), ...secretsIn(c.extra)];
}

/** Every secret the environment itself provides, masked in every task's logs whether or not it asked. */
export function environmentSecrets(env: NodeJS.ProcessEnv): string[] {
  const found: string[] = [];
  for (const [name, raw] of Object.entries(env)) {
    if (raw === undefined) continue;
    if (name.startsWith(VAR_ENV_PREFIX)) found.push(...variableSecrets(name.slice(VAR_ENV_PREFIX.length), raw));
    else if (name.startsWith(CONN_ENV_PREFIX)) {
      try {
        const conn = envConnection(env, name.slice(CONN_ENV_PREFIX.length));
        if (conn) found.push(...connectionSecrets(conn));
      } catch {
        /* a malformed one fails the task that asks for it, with its own message */
      }
    }
  }
  return found;
}

export class SecretsLookup {
  constructor(
    private readonly db: Kysely<Database> | null,
    /** Null when this process has no secret key: stored values then cannot be read. */
    private readonly cipher: SecretCipher | null,
    private readonly env: NodeJS.ProcessEnv = process.env,
  ) {}

  private needCipher(what: string): SecretCipher {
    if (!this.cipher) throw new Error(`cannot read ${what}: this process has no secret key (set UPDRAFT_SECRET_KEY)`);
    return this.cipher;
  }

  /** Null when neither the environment nor the database has `key`. */
  async variable(key: string): Promise<Resolved<string> | null> {
    const fromEnv = envVariable(this.env, key);
    if (fromEnv !== undefined) return { value: fromEnv, secrets: variableSecrets(key, fromEnv) };
    if (!this.db) return null;
    const row = await readVariable(this.db, this.needCipher(`variable "${key}"`), key);
    return row ? { value: row.value, secrets: variableSecrets(key, row.value) } : null;
  }

  async connection(connId: string): Promise<Resolved<TaskConnection> | null> {
    const fromEnv = envConnection(this.env, connId);
    if (fromEnv) return { value: fromEnv, secrets: connectionSecrets(fromEnv) };
    if (!this.db) return null;
    const row = await readConnection(this.db, this.needCipher(`connection "${connId}"`), connId);
    if (!row) return null;
    const conn = taskConnection(connId, { connType: row.connType, host: row.host, port: row.port, login: row.login, password: row.password, schema: row.schema, extra: parseExtra(row.extra, connId) });
    return { value: conn, secrets: connectionSecrets(conn) };
  }
}
