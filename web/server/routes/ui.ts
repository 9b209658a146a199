// The UI's own read endpoints under /ui (like Airflow 3's `/ui/grid` and `/ui/structure`): shapes
// the REST API has no equivalent for, each answered in one or two queries so that a 5,000-task ×
// 25-run grid is one small response. Authenticated like the API (mounted behind `authenticate`).
import express from "express";
import { sql, type Kysely } from "kysely";
import { z } from "zod";
import { NotFoundError } from "../../../engine/errors.js";
import type { DagStructure } from "../../../engine/model/structure.js";
import type { Store } from "../../../engine/store/db.js";
import type { Database } from "../../../engine/store/schema.js";
import { listUsers } from "../../../engine/store/users/listUsers.js";
import { requireRole } from "../auth.js";
import { iso } from "../serializers.js";
import { parse, pathParams, queryInt, queryList } from "../validate.js";
import { WORKER_ALIVE_MS, waitingReason } from "../waitingReason.js";
import { dagNotFound } from "./dags.js";
import { getRun } from "./dagRuns.js";

/**
 * One character per TI state in the grid's matrix: 125,000 cells stay ~125 KB of JSON where
 * objects would be megabytes. `-` is "no TI in this run" (a task added by a later version).
 */
export const STATE_CODES: Record<string, string> = {
  none: ".",
  scheduled: "c",
  queued: "q",
  running: "r",
  success: "s",
  failed: "f",
  up_for_retry: "y",
  up_for_reschedule: "e",
  upstream_failed: "u",
  skipped: "k",
  removed: "x",
  restarting: "t",
  absent: "-",
};

const GridQuery = z.object({
  limit: queryInt({ min: 1, max: 100 }).optional().transform((v) => v ?? 25),
  offset: queryInt({ min: 0 }).optional().transform((v) => v ?? 0),
});
const SummaryQuery = z.object({ dag_ids: queryList(z.string().max(250)).optional().transform((v) => (v ?? []).slice(0, 100)) });
/** Dots per DAG in the list. */
const RECENT_RUNS = 10;
const StructureQuery = z.object({ version_number: queryInt({ min: 1 }).optional() });

const WaitingQuery = z.object({ map_index: queryInt({ min: -1 }).optional().transform((v) => v ?? -1) });

async function structureOf(db: Kysely<Database>, dagId: string, versionNumber?: number) {
  let q = db
    .selectFrom("dag_versions as v")
    .innerJoin("dags as d", "d.dag_id", "v.dag_id")
    .select(["v.structure", "v.version_number", "v.id"])
    .where("v.dag_id", "=", dagId);
  q = versionNumber === undefined ? q.whereRef("v.id", "=", "d.latest_version_id") : q.where("v.version_number", "=", versionNumber);
  const row = await q.executeTakeFirst();
  if (!row) throw versionNumber === undefined ? dagNotFound(dagId) : new NotFoundError(`The DagVersion with dag_id: \`${dagId}\` and version_number: \`${versionNumber}\` was not found`);
  return { structure: row.structure as unknown as DagStructure, versionNumber: row.version_number };
}

/** Which of a mapped task's TI states its grid cell shows: the first present, as Airflow's grid. */
const MAPPED_SUMMARY_ORDER = ["failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "queued", "scheduled", "running", "restarting", "none", "success", "skipped", "removed"];

export function uiRouter(store: Store): express.Router {
  const router = express.Router();

  router.get("/grid/:dag_id", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const q = parse(GridQuery, req.query, "query");
    const { structure } = await structureOf(store.db, dagId);
    const runs = await store.db
      .selectFrom("dag_runs")
      .select(["id", "run_id", "state", "run_type", "logical_date", "run_after", "start_date", "end_date"])
      .where("dag_id", "=", dagId)
      .orderBy("run_after", "desc")
      .orderBy("id", "desc")
      .limit(q.limit)
      .offset(q.offset)
      .execute();
    runs.reverse(); // oldest left, newest right, as Airflow's grid
    const taskIds = structure.tasks.map((t) => t.taskId);
    const groupOf = new Map(structure.tasks.map((t) => [t.taskId, t.group ?? null]));
    const index = new Map(taskIds.map((id, i) => [id, i]));
    const cells = runs.map(() => new Array<string>(taskIds.length).fill(STATE_CODES.absent!));
    /** Mapped task → per run (oldest first) its TIs counted by state code; null: not expanded in that run. */
    const mappedCounts: Record<string, (Record<string, number> | null)[]> = Object.create(null);
    if (runs.length) {
      const runIndex = new Map(runs.map((r, i) => [Number(r.id), i]));
      const tis = await store.db
        .selectFrom("task_instances")
        .select(["run_pk", "task_id", "state"])
        .where("run_pk", "in", runs.map((r) => r.id))
        .where("map_index", "=", -1)
        .execute();
      for (const ti of tis) {
        let t = index.get(ti.task_id);
        if (t === undefined) {
          // A task of an older version: it still gets a row.
          t = taskIds.push(ti.task_id) - 1;
          index.set(ti.task_id, t);
          for (const row of cells) row.push(STATE_CODES.absent!);
        }
        cells[runIndex.get(Number(ti.run_pk))!]![t] = STATE_CODES[ti.state ?? "none"] ?? "?";
      }
      // A mapped task (d.map) once expanded has TIs 0…n-1 instead: its cell shows the most telling
      // of their states, in Airflow's grid order. Only read for the DAG's mapped tasks.
      const mapped = structure.tasks.filter((t) => t.mapSource).map((t) => t.taskId);
      if (mapped.length) {
        const expanded = await store.db
          .selectFrom("task_instances")
          .select(["run_pk", "task_id", "state", sql<number>`count(*)::int`.as("n")])
          .where("run_pk", "in", runs.map((r) => r.id))
          .where("task_id", "in", mapped)
          .where("map_index", ">=", 0)
          .groupBy(["run_pk", "task_id", "state"])
          .execute();
        const rank = (s: string | null) => MAPPED_SUMMARY_ORDER.indexOf(s ?? "none");
        const best = new Map<string, string | null>();
        for (const ti of expanded) {
          const key = `${ti.run_pk}\u0000${ti.task_id}`;
          if (!best.has(key) || rank(ti.state) < rank(best.get(key)!)) best.set(key, ti.state);
          // The cell's tooltip and badge: how many of the mapped TIs are in each state.
          const perRun = (mappedCounts[ti.task_id] ??= runs.map(() => null));
          const counts = (perRun[runIndex.get(Number(ti.run_pk))!] ??= {});
          const code = STATE_CODES[ti.state ?? "none"] ?? "?";
          counts[code] = (counts[code] ?? 0) + ti.n;
        }
        for (const [key, state] of best) {
          const [runPk, taskId] = key.split("\u0000") as [string, string];
          const t = index.get(taskId);
          if (t !== undefined) cells[runIndex.get(Number(runPk))!]![t] = STATE_CODES[state ?? "none"] ?? "?";
        }
      }
    }
    const total = await store.db.selectFrom("dag_runs").select(sql<number>`count(*)::int`.as("n")).where("dag_id", "=", dagId).executeTakeFirstOrThrow();
    res.json({
      dag_id: dagId,
      legend: STATE_CODES,
      task_ids: taskIds,
      runs: runs.map((r) => ({
        dag_run_id: r.run_id,
        state: r.state,
        run_type: r.run_type,
        logical_date: iso(r.logical_date),
        run_after: iso(r.run_after),
        start_date: iso(r.start_date),
        end_date: iso(r.end_date),
      })),
      // cells[run][task], one state code per character
      cells: cells.map((row) => row.join("")),
      // groups[task]: the task's group path (`outer.inner`, d.group) parallel to task_ids; null outside groups
      // or for a task only older versions have. Left out when the DAG has no groups: 5,000 nulls are 25 KB.
      groups: structure.tasks.some((t) => t.group) ? taskIds.map((id) => groupOf.get(id) ?? null) : undefined,
      mapped_counts: mappedCounts,
      total_runs: total.n,
    });
  });

  // The DAG list's time zones, "last runs" dots and run counts by state, for one page of DAGs in three queries.
  router.get("/dag_runs_summary", async (req, res) => {
    const { dag_ids: dagIds } = parse(SummaryQuery, req.query, "query");
    if (!dagIds.length) return void res.json({ dags: {} });
    const recent = await sql<{ dag_id: string; run_id: string; state: string; run_after: Date }>`
      select dag_id, run_id, state, run_after from (
        select dag_id, run_id, state, run_after, row_number() over (partition by dag_id order by run_after desc, id desc) as n
          from dag_runs where dag_id in (${sql.join(dagIds)})) recent
       where n <= ${RECENT_RUNS} order by dag_id, run_after`.execute(store.db);
    const counts = await store.db
      .selectFrom("dag_runs")
      .select(["dag_id", "state", sql<number>`count(*)::int`.as("n")])
      .where("dag_id", "in", dagIds)
      .groupBy(["dag_id", "state"])
      .execute();
    const zones = await store.db.selectFrom("dags").select(["dag_id", "timezone"]).where("dag_id", "in", dagIds).execute();
    const out: Record<string, { timezone: string; recent: { dag_run_id: string; state: string; run_after: string | null }[]; counts: Record<string, number> }> = Object.create(null); // a DAG may be named `__proto__`
    for (const z of zones) out[z.dag_id] = { timezone: z.timezone, recent: [], counts: {} };
    for (const r of recent.rows) out[r.dag_id]?.recent.push({ dag_run_id: r.run_id, state: r.state, run_after: iso(r.run_after) });
    for (const c of counts) if (out[c.dag_id]) out[c.dag_id]!.counts[c.state] = c.n;
    res.json({ dags: out });
  });

  router.get("/structure/:dag_id", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const q = parse(StructureQuery, req.query, "query");
    const { structure: s, versionNumber } = await structureOf(store.db, dagId, q.version_number);
    res.json({
      dag_id: dagId,
      version_number: versionNumber,
      description: s.description,
      doc_md: s.doc,
      timezone: s.timezone,
      schedule: s.schedule,
      start_date: s.start,
      end_date: s.end,
      catchup: s.catchup,
      max_active_runs: s.maxActiveRuns,
      max_active_tasks: s.maxActiveTasks,
      params: s.params,
      tags: s.tags,
      owners: s.owners,
      tasks: s.tasks.map((t) => ({
        task_id: t.taskId,
        operator: t.operator,
        upstream: t.upstream,
        downstream: t.downstream,
        trigger_rule: t.triggerRule,
        retries: t.retries,
        pool: t.pool,
        queue: t.queue,
        doc_md: t.doc,
      })),
    });
  });

  // Why a TI is not running (issue 6 item 4): upstreams, the run's queue, a worker slot, a retry time.
  router.get("/waiting/:dag_id/:dag_run_id/:task_id", async (req, res) => {
    const { dag_id: dagId, dag_run_id: runId, task_id: taskId } = pathParams(req.params, "dag_id", "dag_run_id", "task_id");
    const run = await getRun(store.db, dagId, runId);
    const { map_index: mapIndex } = parse(WaitingQuery, req.query, "query");
    const ti = await store.db
      .selectFrom("task_instances")
      .select("id")
      .where("run_pk", "=", run.id)
      .where("task_id", "=", taskId)
      .where("map_index", "=", mapIndex)
      .executeTakeFirst();
    if (!ti) throw new NotFoundError(`The Task Instance with dag_id: \`${dagId}\`, run_id: \`${runId}\`, task_id: \`${taskId}\` and map_index: \`${mapIndex}\` was not found`);
    res.json({ reason: await waitingReason(store.db, ti.id) });
  });

  // Every finished try of a run's TIs, for the Gantt's bars per try (the REST API has them per TI only).
  router.get("/tries/:dag_id/:dag_run_id", async (req, res) => {
    const { dag_id: dagId, dag_run_id: runId } = pathParams(req.params, "dag_id", "dag_run_id");
    const run = await getRun(store.db, dagId, runId);
    const rows = await store.db
      .selectFrom("task_instance_tries as h")
      .innerJoin("task_instances as ti", "ti.id", "h.ti_id")
      .select(["ti.task_id", "ti.map_index", "h.try_number", "h.state", "h.start_date", "h.end_date", "h.duration"])
      .where("ti.run_pk", "=", run.id)
      .orderBy("ti.task_id")
      .orderBy("ti.map_index")
      .orderBy("h.try_number")
      .limit(10_000)
      .execute();
    res.json({
      tries: rows.map((r) => ({ task_id: r.task_id, map_index: r.map_index, try_number: r.try_number, state: r.state, start_date: iso(r.start_date), end_date: iso(r.end_date), duration: r.duration })),
    });
  });

  router.get("/workers", async (_req, res) => {
    const rows = await store.db.selectFrom("workers").selectAll().orderBy("worker_id").execute();
    const busy = await store.db
      .selectFrom("task_instances")
      .select(["worker_id", sql<number>`sum(pool_slots)::int`.as("used")])
      .where("state", "=", "running")
      .groupBy("worker_id")
      .execute();
    const used = new Map(busy.map((b) => [b.worker_id, b.used]));
    res.json({
      workers: rows.map((w) => ({
        worker_id: w.worker_id,
        hostname: w.hostname,
        pid: w.pid,
        queues: w.queues,
        slots: w.slots,
        slots_used: used.get(w.worker_id) ?? 0,
        started_at: iso(w.started_at),
        last_heartbeat: iso(w.last_heartbeat),
        alive: Date.now() - new Date(w.last_heartbeat).getTime() < WORKER_ALIVE_MS,
      })),
    });
  });

  router.get("/users", requireRole("admin"), async (_req, res) => {
    const users = await listUsers(store.db);
    res.json({ users: users.map((u) => ({ username: u.username, role: u.role, created_at: iso(u.createdAt) })) });
  });

  return router;
}
