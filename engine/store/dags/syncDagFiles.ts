// Recording what the DAG processor found in many files at once (a cold start): the same rows as
// syncDagFile for each file — its code, a new immutable version per DAG whose structure or code
// changed, DAGs a file no longer defines marked stale, its import error cleared or a conflict
// recorded — plus each DAG's next run, in one transaction of set-based statements (a dozen
// statements for the whole batch instead of about ten per DAG and one commit per file).
import { createHash } from "node:crypto";
import { sql, type Kysely } from "kysely";
import type { DagStructure } from "../../model/structure.js";
import { nextDataInterval, type DataInterval } from "../../semantics/schedule.js";
import type { Database } from "../schema.js";
import type { SyncInput } from "./syncDagFile.js";

export interface BatchSyncResult {
  /** Per file (same order as the input): DAG ids that got a new version. */
  changed: string[][];
  /** Per file: the DAG ids it defines that are recorded from it (not owned by another file). */
  recorded: string[][];
}

/** Same content hash as syncDagFile: a version is the structure together with the code. */
const contentHashOf = (s: DagStructure, codeHash: string) => createHash("sha256").update(JSON.stringify(s)).update(codeHash).digest("hex").slice(0, 32);

export async function syncDagFiles(db: Kysely<Database>, inputs: SyncInput[], now = new Date()): Promise<BatchSyncResult> {
  const result: BatchSyncResult = { changed: inputs.map(() => []), recorded: inputs.map(() => []) };
  if (!inputs.length) return result;
  return db.transaction().execute(async (tx) => {
    const codes = new Map(inputs.map((i) => [i.codeHash, { code_hash: i.codeHash, fileloc: i.fileloc, source: i.source, bundle: i.bundle }]));
    await tx.insertInto("dag_code").values([...codes.values()]).onConflict((oc) => oc.column("code_hash").doNothing()).execute();

    const allIds = [...new Set(inputs.flatMap((i) => i.structures.map((s) => s.dagId)))];
    const batchFiles = new Set(inputs.map((i) => i.fileloc));
    const definedBy = new Map(inputs.map((i) => [i.fileloc, new Set(i.structures.map((s) => s.dagId))]));
    const existing = allIds.length
      ? await tx.selectFrom("dags").select(["dag_id", "fileloc", "is_stale"]).where("dag_id", "in", allIds).orderBy("dag_id").forUpdate().execute()
      : [];
    const owner = new Map(existing.map((e) => [e.dag_id, e]));

    // Who gets each DAG id: as syncDagFile decides file by file — a live DAG of another file is a
    // conflict — except that an owner in this batch that no longer defines the id gives it up
    // (its DAG goes stale in this same transaction), and within the batch the first file wins.
    const claims: { input: SyncInput; fileIndex: number; s: DagStructure }[] = [];
    const claimed = new Map<string, string>();
    const conflicts = new Map<string, { dagId: string; fileloc: string }>();
    inputs.forEach((input, fileIndex) => {
      for (const s of input.structures) {
        const e = owner.get(s.dagId);
        const ownerKeeps = e && e.fileloc !== input.fileloc && !e.is_stale && !(batchFiles.has(e.fileloc) && !definedBy.get(e.fileloc)!.has(s.dagId));
        const other = ownerKeeps ? e.fileloc : claimed.get(s.dagId);
        if (other !== undefined && other !== input.fileloc) {
          if (!conflicts.has(input.fileloc)) conflicts.set(input.fileloc, { dagId: s.dagId, fileloc: other });
          continue;
        }
        claimed.set(s.dagId, input.fileloc);
        claims.push({ input, fileIndex, s });
        result.recorded[fileIndex]!.push(s.dagId);
      }
    });

    if (claims.length) {
      const claimedIds = claims.map((c) => c.s.dagId);
      // The next run, as refreshNextRun computes it, from the structure being recorded.
      const runs = await tx
        .selectFrom("dag_runs")
        .select(["dag_id", sql<Date | null>`max(data_interval_end)`.as("end"), sql<number>`count(*)::int`.as("n")])
        .where("dag_id", "in", claimedIds)
        .where("run_type", "=", "scheduled")
        .groupBy("dag_id")
        .execute();
      const lastRun = new Map(runs.map((r) => [r.dag_id, r]));
      const nextOf = (s: DagStructure): DataInterval | null => {
        if (!s.schedule) return null;
        const last = lastRun.get(s.dagId);
        return nextDataInterval({
          schedule: s.schedule,
          start: s.start ? new Date(s.start) : null,
          end: s.end ? new Date(s.end) : null,
          catchup: s.catchup,
          lastIntervalEnd: last?.end ? new Date(last.end) : null,
          hasScheduledRun: (last?.n ?? 0) > 0,
          now,
        });
      };
      const rows = claims.map(({ input, s }) => {
        const next = nextOf(s);
        return {
          dag_id: s.dagId,
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
          last_parsed_time: now,
          updated_at: now,
          next_dagrun_logical_date: next?.start ?? null,
          next_dagrun_data_interval_start: next?.start ?? null,
          next_dagrun_data_interval_end: next?.end ?? null,
          next_dagrun_run_after: next?.end ?? null,
        };
      });
      const updated = [
        "fileloc",
        "relative_fileloc",
        "description",
        "timetable_summary",
        "timezone",
        "tags",
        "owners",
        "max_active_runs",
        "max_active_tasks",
        "is_stale",
        "last_parsed_time",
        "updated_at",
        "next_dagrun_logical_date",
        "next_dagrun_data_interval_start",
        "next_dagrun_data_interval_end",
        "next_dagrun_run_after",
      ] as const;
      await tx
        .insertInto("dags")
        .values(rows)
        .onConflict((oc) => oc.column("dag_id").doUpdateSet((eb) => Object.fromEntries(updated.map((c) => [c, eb.ref(`excluded.${c}`)]))))
        .execute();

      // Content-addressed versions: an existing (dag_id, content_hash) is reused, anything else
      // is the DAG's next version number.
      const wanted = claims.map(({ input, s, fileIndex }) => ({ s, input, fileIndex, contentHash: contentHashOf(s, input.codeHash) }));
      const found = await tx
        .selectFrom("dag_versions")
        .select(["id", "dag_id", "content_hash"])
        .where("dag_id", "in", claimedIds)
        .where("content_hash", "in", wanted.map((w) => w.contentHash))
        .execute();
      const versionOf = new Map(found.map((f) => [`${f.dag_id}\u0000${f.content_hash}`, f.id]));
      const missing = wanted.filter((w) => !versionOf.has(`${w.s.dagId}\u0000${w.contentHash}`));
      if (missing.length) {
        const maxes = await tx
          .selectFrom("dag_versions")
          .select(["dag_id", sql<number>`max(version_number)`.as("n")])
          .where("dag_id", "in", missing.map((m) => m.s.dagId))
          .groupBy("dag_id")
          .execute();
        const lastNumber = new Map(maxes.map((m) => [m.dag_id, Number(m.n)]));
        const inserted = await tx
          .insertInto("dag_versions")
          .values(
            missing.map((m) => ({
              dag_id: m.s.dagId,
              version_number: (lastNumber.get(m.s.dagId) ?? 0) + 1,
              content_hash: m.contentHash,
              code_hash: m.input.codeHash,
              structure: JSON.stringify(m.s),
              bundle_version: m.input.bundleVersion ?? null,
            })),
          )
          .returning(["id", "dag_id", "content_hash"])
          .execute();
        for (const v of inserted) versionOf.set(`${v.dag_id}\u0000${v.content_hash}`, v.id);
        for (const m of missing) result.changed[m.fileIndex]!.push(m.s.dagId);
      }
      const pairs = wanted.map((w) => sql`(${w.s.dagId}, ${versionOf.get(`${w.s.dagId}\u0000${w.contentHash}`)!}::uuid)`);
      await sql`UPDATE dags SET latest_version_id = v.id FROM (VALUES ${sql.join(pairs)}) AS v(dag_id, id) WHERE dags.dag_id = v.dag_id`.execute(tx);
    }

    // DAGs the batch's files no longer define (including ones just given up to another file).
    const kept = claims.map((c) => sql`(${c.input.fileloc}, ${c.s.dagId})`);
    let gone = tx
      .updateTable("dags")
      .set({ is_stale: true, updated_at: now })
      .where("fileloc", "in", [...batchFiles])
      .where("is_stale", "=", false);
    if (kept.length) gone = gone.where(sql<boolean>`(fileloc, dag_id) NOT IN (${sql.join(kept)})`);
    await gone.execute();

    const clean = inputs.map((i) => i.fileloc).filter((f) => !conflicts.has(f));
    if (clean.length) await tx.deleteFrom("import_errors").where("filename", "in", clean).execute();
    if (conflicts.size) {
      await tx
        .insertInto("import_errors")
        .values([...conflicts].map(([fileloc, c]) => ({ filename: fileloc, line: null, stack_trace: `DAG id "${c.dagId}" is already defined in ${c.fileloc}` })))
        .onConflict((oc) => oc.column("filename").doUpdateSet((eb) => ({ line: eb.ref("excluded.line"), stack_trace: eb.ref("excluded.stack_trace"), timestamp: now })))
        .execute();
    }
    return result;
  });
}
