// Reads of the model registry (migrations/0010_models_metrics.sql): the API's lists, and the
// production version a task (`ctx.models.production`) or the predict endpoint asks for.
import type { Kysely, Selectable } from "kysely";
import type { ModelVersionInfo } from "../../authoring/types.js";
import type { Database, ModelVersionsTable } from "../schema.js";

export function toModelVersionInfo(row: Selectable<ModelVersionsTable>): ModelVersionInfo {
  return {
    name: row.model_name,
    version: row.version,
    stage: row.stage,
    artifactPath: row.artifact_path,
    featureSchema: row.feature_schema,
    metrics: row.metrics,
    params: row.params,
    source: { dagId: row.source_dag_id, runId: row.source_run_id, taskId: row.source_task_id, tryNumber: row.source_try_number },
    createdAt: new Date(row.created_at).toISOString(),
  };
}

export interface ModelSummary {
  name: string;
  createdAt: string;
  latestVersion: number | null;
  productionVersion: number | null;
}

export async function listModels(db: Kysely<Database>): Promise<ModelSummary[]> {
  const rows = await db
    .selectFrom("models")
    .leftJoin("model_versions", "model_versions.model_name", "models.name")
    .select((eb) => [
      "models.name",
      "models.created_at",
      eb.fn.max("model_versions.version").as("latest"),
      eb.fn.max(eb.case().when("model_versions.stage", "=", "production").then(eb.ref("model_versions.version")).end()).as("production"),
    ])
    .groupBy(["models.name", "models.created_at"])
    .orderBy("models.name")
    .execute();
  return rows.map((r) => ({
    name: r.name,
    createdAt: new Date(r.created_at).toISOString(),
    latestVersion: r.latest === null ? null : Number(r.latest),
    productionVersion: r.production === null ? null : Number(r.production),
  }));
}

export async function modelExists(db: Kysely<Database>, name: string): Promise<boolean> {
  return !!(await db.selectFrom("models").select("name").where("name", "=", name).executeTakeFirst());
}

/** Newest first. */
export async function listModelVersions(db: Kysely<Database>, name: string): Promise<ModelVersionInfo[]> {
  const rows = await db.selectFrom("model_versions").selectAll().where("model_name", "=", name).orderBy("version", "desc").execute();
  return rows.map(toModelVersionInfo);
}

export async function getProductionVersion(db: Kysely<Database>, name: string): Promise<(ModelVersionInfo & { id: number }) | null> {
  const row = await db.selectFrom("model_versions").selectAll().where("model_name", "=", name).where("stage", "=", "production").executeTakeFirst();
  return row ? { ...toModelVersionInfo(row), id: row.id } : null;
}

/** The cheap question asked on every prediction: which version (row id) serves now? */
export async function productionVersionId(db: Kysely<Database>, name: string): Promise<number | null> {
  const row = await db.selectFrom("model_versions").select("id").where("model_name", "=", name).where("stage", "=", "production").executeTakeFirst();
  return row?.id ?? null;
}
