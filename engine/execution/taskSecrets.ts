// `ctx.variables` and `ctx.connections` (DESIGN §6). The host resolves names — in a worker, the
// parent process, which reads the database, decrypts and registers the values for masking; a
// host without that (e.g. `updraft dags test`) falls back to the environment alone.
import type { TaskConnection, TaskContext } from "../authoring/types.js";
import { envConnection, envVariable } from "../secrets/lookup.js";

export type SecretKind = "variable" | "connection";
/** Resolves a variable (string) or connection; null when unknown. */
export type SecretResolver = (kind: SecretKind, key: string) => Promise<unknown>;

export const environmentResolver: SecretResolver = async (kind, key) =>
  (kind === "variable" ? envVariable(process.env, key) : envConnection(process.env, key)) ?? null;

export function taskSecrets(resolve: SecretResolver): Pick<TaskContext, "variables" | "connections"> {
  const variable = async (key: string): Promise<string | null> => {
    if (typeof key !== "string" || !key) throw new Error("ctx.variables.get needs a variable key");
    return (await resolve("variable", key)) as string | null;
  };
  return {
    variables: {
      async get(key, defaultValue) {
        const value = await variable(key);
        if (value !== null) return value;
        if (defaultValue !== undefined) return defaultValue;
        throw new Error(`variable "${key}" does not exist (neither stored nor set as UPDRAFT_VAR_${key.toUpperCase()})`);
      },
      async getJson<T>(key: string, defaultValue?: T): Promise<T> {
        const value = await variable(key);
        if (value === null) {
          if (defaultValue !== undefined) return defaultValue;
          throw new Error(`variable "${key}" does not exist (neither stored nor set as UPDRAFT_VAR_${key.toUpperCase()})`);
        }
        try {
          return JSON.parse(value) as T;
        } catch {
          throw new Error(`variable "${key}" is not valid JSON`);
        }
      },
    },
    connections: {
      async get(connId) {
        if (typeof connId !== "string" || !connId) throw new Error("ctx.connections.get needs a connection id");
        const conn = (await resolve("connection", connId)) as TaskConnection | null;
        if (!conn) throw new Error(`connection "${connId}" does not exist (neither stored nor set as UPDRAFT_CONN_${connId.toUpperCase()})`);
        return conn;
      },
    },
  };
}
