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

/** A worker whose heartbeat is older than this is shown as not alive. */
const WORKER_ALIVE_MS = 30_000;

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
    const index = new Map(taskIds.map((id, i) => [id, i]));
    const cells = runs.map(() => new Array<string>(taskIds.length).fill(STATE_CODES.absent!));
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
    const ti = await store.db
      .selectFrom("task_instances")
      .select(["id", "task_id", "state", "try_number", "max_tries", "queue", "pool", "next_retry_at", "dag_version_id"])
      .where("run_pk", "=", run.id)
      .where("task_id", "=", taskId)
      .where("map_index", "=", -1)
      .executeTakeFirst();
    if (!ti) throw new NotFoundError(`The Task Instance with dag_id: \`${dagId}\`, run_id: \`${runId}\` and task_id: \`${taskId}\` was not found`);
    res.json({ reason: await waitingReason(store.db, dagId, run, ti) });
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

type RunRow = Awaited<ReturnType<typeof getRun>>;
interface WaitingTi {
  id: string;
  task_id: string;
  state: string | null;
  try_number: number;
  max_tries: number;
  queue: string;
  pool: string;
  next_retry_at: Date | null;
  dag_version_id: string;
}

async function waitingReason(db: Kysely<Database>, dagId: string, run: RunRow, ti: WaitingTi): Promise<string | null> {
  if (run.state === "queued") {
    const dag = await db.selectFrom("dags").select(["is_paused", "max_active_runs"]).where("dag_id", "=", dagId).executeTakeFirstOrThrow();
    if (dag.is_paused) return "The DAG is paused: its queued runs start when it is unpaused.";
    const active = await db.selectFrom("dag_runs").select(sql<number>`count(*)::int`.as("n")).where("dag_id", "=", dagId).where("state", "=", "running").executeTakeFirstOrThrow();
    if (active.n >= dag.max_active_runs) return `The run is queued: the DAG is at maxActiveRuns (${active.n} of ${dag.max_active_runs} running).`;
    return "The run is queued and waits for the scheduler to start it.";
  }
  switch (ti.state) {
    case null: {
      const version = await db.selectFrom("dag_versions").select("structure").where("id", "=", ti.dag_version_id).executeTakeFirstOrThrow();
      const task = (version.structure as unknown as DagStructure).tasks.find((t) => t.taskId === ti.task_id);
      const upstream = task?.upstream ?? [];
      if (!upstream.length) return "Waiting to be scheduled.";
      const states = await db.selectFrom("task_instances").select(["task_id", "state"]).where("run_pk", "=", run.id).where("task_id", "in", upstream).execute();
      const pending = states.filter((s) => !["success", "failed", "skipped", "upstream_failed", "removed"].includes(s.state ?? ""));
      if (pending.length) return `Waiting for upstream tasks to finish: ${pending.map((p) => `${p.task_id} (${p.state ?? "none"})`).join(", ")}.`;
      return "Upstream tasks are done; waiting for the trigger rule to be evaluated.";
    }
    case "scheduled":
      return "Scheduled: waiting to be queued.";
    case "queued": {
      const workers = await db
        .selectFrom("workers")
        .select(["worker_id", "slots"])
        .where(sql<boolean>`${ti.queue} = any(queues)`)
        .where("last_heartbeat", ">", new Date(Date.now() - WORKER_ALIVE_MS))
        .execute();
      if (!workers.length) return `Queued on queue "${ti.queue}", but no live worker listens on it.`;
      const slots = workers.reduce((n, w) => n + w.slots, 0);
      const running = await db
        .selectFrom("task_instances")
        .select(sql<number>`count(*)::int`.as("n"))
        .where("state", "=", "running")
        .where("queue", "=", ti.queue)
        .executeTakeFirstOrThrow();
      if (running.n >= slots) return `Queued: all ${slots} worker slots on queue "${ti.queue}" are busy.`;
      return `Queued on queue "${ti.queue}" (pool "${ti.pool}"): waiting for a worker to claim it.`;
    }
    case "up_for_retry":
      return ti.next_retry_at
        ? `Up for retry: try ${ti.try_number + 1} of ${ti.max_tries + 1} at ${new Date(ti.next_retry_at).toISOString().slice(11, 19)} UTC.`
        : "Up for retry.";
    default:
      return null;
  }
}
