// Registers the next version of a model (creating the model on first use), optionally promoting it.
import type { Transaction } from "kysely";
import type { ModelRegistration } from "../../authoring/types.js";
import type { Database } from "../schema.js";
import { promoteInTransaction } from "./promoteModelVersion.js";

export interface RegisterSource {
  dagId: string;
  runId: string;
  taskId: string;
  tryNumber: number;
}

export async function registerModelVersion(tx: Transaction<Database>, name: string, reg: ModelRegistration, source: RegisterSource | null): Promise<number> {
  await tx.insertInto("models").values({ name }).onConflict((oc) => oc.column("name").doNothing()).execute();
  // Locked so that concurrent registrations of one model number their versions without a gap or clash.
  await tx.selectFrom("models").select("name").where("name", "=", name).forUpdate().execute();
  const last = await tx.selectFrom("model_versions").select((eb) => eb.fn.max("version").as("v")).where("model_name", "=", name).executeTakeFirst();
  const version = Number(last?.v ?? 0) + 1;
  await tx
    .insertInto("model_versions")
    .values({
      model_name: name,
      version,
      artifact_path: reg.artifactPath,
      feature_schema: JSON.stringify(reg.featureSchema ?? {}),
      metrics: JSON.stringify(reg.metrics ?? {}),
      params: JSON.stringify(reg.params ?? {}),
      source_dag_id: source?.dagId ?? null,
      source_run_id: source?.runId ?? null,
      source_task_id: source?.taskId ?? null,
      source_try_number: source?.tryNumber ?? null,
    })
    .execute();
  if (reg.promote) await promoteInTransaction(tx, name, version);
  return version;
}
