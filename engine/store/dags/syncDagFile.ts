// Recording what the DAG processor found in one file: its code, a new immutable version for each
// DAG whose structure or code changed, DAGs the file no longer defines marked stale, and the
// file's import error cleared — or, when it failed, the import error recorded.
import { createHash } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { DagStructure } from "../../model/structure.js";
import type { Database } from "../schema.js";

export interface SyncInput {
  fileloc: string;
  relativeFileloc: string;
  source: string;
  bundle: string;
  codeHash: string;
  structures: DagStructure[];
  bundleVersion?: string | null;
}

export interface SyncResult {
  /** DAG ids that got a new version. */
  changed: string[];
  /** Ids this file tried to define that another file already owns. */
  conflicts: { dagId: string; fileloc: string }[];
}

export async function syncDagFile(db: Kysely<Database>, input: SyncInput): Promise<SyncResult> {
  return db.transaction().execute(async (tx) => {
    const result: SyncResult = { changed: [], conflicts: [] };
    await tx
      .insertInto("dag_code")
      .values({ code_hash: input.codeHash, fileloc: input.fileloc, source: input.source, bundle: input.bundle })
      .onConflict((oc) => oc.column("code_hash").doNothing())
      .execute();
    for (const s of input.structures) {
      const existing = await tx.selectFrom("dags").select(["fileloc", "is_stale"]).where("dag_id", "=", s.dagId).forUpdate().executeTakeFirst();
      if (existing && existing.fileloc !== input.fileloc && !existing.is_stale) {
        result.conflicts.push({ dagId: s.dagId, fileloc: existing.fileloc });
        continue;
      }
      const row = {
        fileloc: input.fileloc,
        relative_fileloc: input.relativeFileloc,
        description: s.description,
        timetable_summary: s.schedule?.summary ?? null,
        timezone: s.timezone,
        tags: s.tags,
        owners: s.owners,
        max_active_runs: s.maxActiveRuns,
        max_active_tasks: s.maxActiveTasks,
        is_stale: false,
        last_parsed_time: sql<Date>`now()`,
        updated_at: sql<Date>`now()`,
      };
      await tx
        .insertInto("dags")
        .values({ dag_id: s.dagId, ...row })
        .onConflict((oc) => oc.column("dag_id").doUpdateSet(row))
        .execute();
      const contentHash = createHash("sha256").update(JSON.stringify(s)).update(input.codeHash).digest("hex").slice(0, 32);
      let version = await tx.selectFrom("dag_versions").select("id").where("dag_id", "=", s.dagId).where("content_hash", "=", contentHash).executeTakeFirst();
      if (!version) {
        const last = await tx.selectFrom("dag_versions").select(sql<number>`coalesce(max(version_number), 0)`.as("n")).where("dag_id", "=", s.dagId).executeTakeFirstOrThrow();
        version = await tx
          .insertInto("dag_versions")
          .values({ dag_id: s.dagId, version_number: Number(last.n) + 1, content_hash: contentHash, code_hash: input.codeHash, structure: JSON.stringify(s), bundle_version: input.bundleVersion ?? null })
          .returning("id")
          .executeTakeFirstOrThrow();
        result.changed.push(s.dagId);
      }
      await tx.updateTable("dags").set({ latest_version_id: version.id }).where("dag_id", "=", s.dagId).execute();
    }
    const defined = input.structures.map((s) => s.dagId);
    let gone = tx.updateTable("dags").set({ is_stale: true, updated_at: sql`now()` }).where("fileloc", "=", input.fileloc).where("is_stale", "=", false);
    if (defined.length) gone = gone.where("dag_id", "not in", defined);
    await gone.execute();
    if (result.conflicts.length) {
      const c = result.conflicts[0]!;
      await upsertImportError(tx, input.fileloc, `DAG id "${c.dagId}" is already defined in ${c.fileloc}`, null);
    } else {
      await tx.deleteFrom("import_errors").where("filename", "=", input.fileloc).execute();
    }
    return result;
  });
}

/** A file that failed to import: its DAGs keep running on their last good version. */
export async function recordImportError(db: Kysely<Database>, fileloc: string, message: string, line: number | null): Promise<void> {
  await upsertImportError(db, fileloc, message, line);
}

async function upsertImportError(db: Kysely<Database>, fileloc: string, message: string, line: number | null): Promise<void> {
  const stack = line && !message.includes(`${fileloc}:${line}`) ? `${fileloc}:${line}: ${message}` : message;
  await db
    .insertInto("import_errors")
    .values({ filename: fileloc, line, stack_trace: stack })
    .onConflict((oc) => oc.column("filename").doUpdateSet({ line, stack_trace: stack, timestamp: sql`now()` }))
    .execute();
}

/** A file deleted from the DAGs folder: its DAGs become stale, its import error goes. */
export async function forgetDagFile(db: Kysely<Database>, fileloc: string): Promise<void> {
  await db.transaction().execute(async (tx) => {
    await tx.updateTable("dags").set({ is_stale: true, updated_at: sql`now()` }).where("fileloc", "=", fileloc).execute();
    await tx.deleteFrom("import_errors").where("filename", "=", fileloc).execute();
  });
}
