// Reading DAG versions: structure for the scheduler and workers, bundled code for runners.
// Versions are immutable, so both are cached by id for the life of the process.
import type { Kysely } from "kysely";
import { NotFoundError } from "../errors.js";
import type { DagStructure, TaskStructure } from "../model/structure.js";
import type { Database } from "./schema.js";

export interface LoadedVersion {
  id: string;
  dagId: string;
  versionNumber: number;
  codeHash: string;
  structure: DagStructure;
  tasks: Map<string, TaskStructure>;
}

const versionCache = new Map<string, LoadedVersion>();
const bundleCache = new Map<string, string>();

export async function getVersion(db: Kysely<Database>, versionId: string): Promise<LoadedVersion> {
  const cached = versionCache.get(versionId);
  if (cached) return cached;
  const row = await db
    .selectFrom("dag_versions")
    .select(["id", "dag_id", "version_number", "code_hash", "structure"])
    .where("id", "=", versionId)
    .executeTakeFirst();
  if (!row) throw new NotFoundError(`DAG version ${versionId} not found`);
  const structure = row.structure as DagStructure;
  const loaded: LoadedVersion = {
    id: row.id,
    dagId: row.dag_id,
    versionNumber: row.version_number,
    codeHash: row.code_hash,
    structure,
    tasks: new Map(structure.tasks.map((t) => [t.taskId, t])),
  };
  versionCache.set(versionId, loaded);
  return loaded;
}

export async function getBundle(db: Kysely<Database>, codeHash: string): Promise<string> {
  const cached = bundleCache.get(codeHash);
  if (cached) return cached;
  const row = await db.selectFrom("dag_code").select("bundle").where("code_hash", "=", codeHash).executeTakeFirst();
  if (!row) throw new NotFoundError(`DAG code ${codeHash} not found`);
  bundleCache.set(codeHash, row.bundle);
  return row.bundle;
}
