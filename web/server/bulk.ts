// Airflow's bulk PATCH (`BulkBody` → `BulkResponse`) for variables and connections: a list of
// create / update / delete actions. As in Airflow's BulkService, an action whose existence check
// fails (`action_on_existence` / `action_on_non_existence: fail`) changes nothing and is reported
// in that action's `errors` with its status code; the other actions still apply. The whole body
// runs in one transaction, and is validated before anything is written.
import type { Kysely, Transaction } from "kysely";
import { z } from "zod";
import type { Database } from "../../engine/store/schema.js";

export const BulkActionOnExistence = z.enum(["fail", "skip", "overwrite"]);
export const BulkActionNotOnExistence = z.enum(["fail", "skip"]);

/** BulkBody[Entity] for an entity body schema. */
export function bulkBody<E extends z.ZodType>(entity: E) {
  return z.strictObject({
    actions: z.array(
      z.discriminatedUnion("action", [
        z.strictObject({ action: z.literal("create"), entities: z.array(entity), action_on_existence: BulkActionOnExistence.default("fail") }),
        z.strictObject({ action: z.literal("update"), entities: z.array(entity), action_on_non_existence: BulkActionNotOnExistence.default("fail") }),
        z.strictObject({ action: z.literal("delete"), entities: z.array(z.string()), action_on_non_existence: BulkActionNotOnExistence.default("fail") }),
      ]),
    ),
  });
}

export type BulkAction<E> =
  | { action: "create"; entities: E[]; action_on_existence: "fail" | "skip" | "overwrite" }
  | { action: "update"; entities: E[]; action_on_non_existence: "fail" | "skip" }
  | { action: "delete"; entities: string[]; action_on_non_existence: "fail" | "skip" };

export interface BulkActionResponse {
  success: string[];
  errors: { error: string; status_code: number }[];
}

export interface BulkEntityStore<E> {
  /** "variables" / "connections", and what their ids are called, for Airflow's messages. */
  noun: string;
  idName: string;
  idOf(entity: E): string;
  existing(tx: Transaction<Database>, ids: string[]): Promise<Set<string>>;
  create(tx: Transaction<Database>, entity: E, overwrite: boolean): Promise<void>;
  update(tx: Transaction<Database>, entity: E): Promise<void>;
  delete(tx: Transaction<Database>, ids: string[]): Promise<void>;
}

/** Python's repr of a set of strings, as Airflow's messages print them. */
const pySet = (ids: string[]) => `{${ids.map((id) => `'${id}'`).join(", ")}}`;

export async function runBulk<E>(db: Kysely<Database>, store: BulkEntityStore<E>, actions: BulkAction<E>[]): Promise<Partial<Record<"create" | "update" | "delete", BulkActionResponse>>> {
  const response: Partial<Record<"create" | "update" | "delete", BulkActionResponse>> = {};
  await db.transaction().execute(async (tx) => {
    for (const action of actions) {
      const result = (response[action.action] ??= { success: [], errors: [] });
      const ids = action.action === "delete" ? action.entities : action.entities.map((e) => store.idOf(e));
      const existing = await store.existing(tx, ids);
      if (action.action === "create") {
        const clash = ids.filter((id) => existing.has(id));
        if (clash.length && action.action_on_existence === "fail") {
          result.errors.push({ error: `The ${store.noun} with these ${store.idName}: ${pySet(clash)} already exist.`, status_code: 409 });
          continue;
        }
        for (const entity of action.entities) {
          const id = store.idOf(entity);
          if (existing.has(id) && action.action_on_existence === "skip") continue;
          await store.create(tx, entity, existing.has(id));
          existing.add(id); // the same id twice in one action: the last one wins
          result.success.push(id);
        }
        continue;
      }
      const missing = ids.filter((id) => !existing.has(id));
      if (missing.length && action.action_on_non_existence === "fail") {
        result.errors.push({ error: `The ${store.noun} with these ${store.idName}: ${pySet(missing)} were not found.`, status_code: 404 });
        continue;
      }
      if (action.action === "update") {
        for (const entity of action.entities) {
          if (!existing.has(store.idOf(entity))) continue;
          await store.update(tx, entity);
          result.success.push(store.idOf(entity));
        }
      } else {
        const present = ids.filter((id) => existing.has(id));
        await store.delete(tx, present);
        result.success.push(...present);
      }
    }
  });
  return response;
}
