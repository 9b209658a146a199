// `updraft dags backfill <dag_id> --from D --to D [--reprocess none|failed|completed] [--dry-run]`.
// Creates an Airflow 3 backfill (the scheduler runs it; interrupting this command does not stop
// it) and follows it with a progress bar on stderr. With PGlite and a running `updraft start`, it
// goes through that process's REST API, like `dags trigger`; otherwise straight to the database.
import type { Config } from "../../engine/config.js";
import { UpdraftError } from "../../engine/errors.js";
import { migrate } from "../../engine/store/migrate.js";
import { openStoreFromConfig } from "../../engine/store/openFromConfig.js";
import { createBackfill } from "../../engine/store/backfills/createBackfill.js";
import { planBackfill } from "../../engine/store/backfills/planBackfill.js";
import type { Store } from "../../engine/store/db.js";
import { parseConf } from "./shared.js";

export interface BackfillOptions {
  from: string;
  to: string;
  reprocess?: string;
  dryRun?: boolean;
  maxActiveRuns?: number;
  runBackwards?: boolean;
  conf?: string;
  /** Return once created instead of following progress. */
  noWait?: boolean;
}

export interface Progress {
  total: number;
  success: number;
  failed: number;
  completed: boolean;
}

/** A bare date means midnight UTC, as Airflow's CLI reads it. */
export function parseBackfillDate(text: string, flag: string): Date {
  const s = /^\d{4}-\d{2}-\d{2}$/.test(text) ? `${text}T00:00:00Z` : text;
  const d = new Date(s);
  if (Number.isNaN(d.getTime())) throw new UpdraftError(`${flag} ${JSON.stringify(text)} is not a date (use ISO 8601, e.g. 2024-01-31 or 2024-01-31T06:00:00Z)`, "usage", 2);
  return d;
}

/** `[#########-----------]  9/20 runs · 1 failed`, redrawn in place on a terminal. */
export function progressLine(p: Progress, width = 30): string {
  const done = p.success + p.failed;
  const filled = p.total ? Math.round((done / p.total) * width) : width;
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${String(done).padStart(String(p.total).length)}/${p.total} runs${p.failed ? ` · ${p.failed} failed` : ""}`;
}

export async function dagsBackfillCommand(config: Config, dagId: string, opts: BackfillOptions): Promise<void> {
  const reprocess = opts.reprocess ?? "none";
  if (!["none", "failed", "completed"].includes(reprocess)) throw new UpdraftError(`--reprocess must be none, failed or completed, got ${JSON.stringify(reprocess)}`, "usage", 2);
  const body = {
    dag_id: dagId,
    from_date: parseBackfillDate(opts.from, "--from").toISOString(),
    to_date: parseBackfillDate(opts.to, "--to").toISOString(),
    reprocess_behavior: reprocess as "none" | "failed" | "completed",
    run_backwards: opts.runBackwards ?? false,
    dag_run_conf: parseConf(opts.conf),
    ...(opts.maxActiveRuns ? { max_active_runs: opts.maxActiveRuns } : {}),
  };
  const { localAdminToken, runningServer } = await import("./localApi.js");
  const server = !config.databaseUrl ? runningServer(config) : null;
  const api = server ? restApi(server.url, await localAdminToken(config)) : null;
  const store = api ? null : await openStoreFromConfig(config, "updraft-cli");
  try {
    if (store) await migrate(store);
    const dates = api ? await api.dryRun(body) : await dryRunDirect(store!, body);
    if (opts.dryRun) {
      console.log(`${dates.length} run${dates.length === 1 ? "" : "s"} would be created for ${dagId}:`);
      for (const d of dates) console.log(`  ${d}`);
      return;
    }
    const backfill = api ? await api.create(body) : await createDirect(store!, body);
    console.log(`backfill ${backfill.id} of ${dagId}: ${dates.length} run${dates.length === 1 ? "" : "s"} (${body.from_date} → ${body.to_date}, reprocess ${reprocess})`);
    if (opts.noWait || dates.length === 0) return;
    if (!api && !config.databaseUrl) {
      console.log("it runs when `updraft start` runs (the embedded database belongs to that process)");
      return;
    }
    const progress = api ? () => api.progress(backfill.id, dagId, dates) : () => progressDirect(store!, backfill.id);
    await follow(progress);
  } finally {
    await store?.close();
  }
}

async function follow(progress: () => Promise<Progress>): Promise<void> {
  const tty = process.stderr.isTTY;
  let last = "";
  process.stderr.write(tty ? "(ctrl-c stops following; the scheduler keeps running the backfill)\n" : "");
  for (;;) {
    const p = await progress();
    const line = progressLine(p);
    if (line !== last) process.stderr.write(tty ? `\r${line}` : `${line}\n`);
    last = line;
    if (p.completed) {
      if (tty) process.stderr.write("\n");
      console.log(`backfill finished: ${p.success} succeeded, ${p.failed} failed`);
      if (p.failed) process.exitCode = 1;
      return;
    }
    await new Promise((r) => setTimeout(r, 500));
  }
}

type Body = { dag_id: string; from_date: string; to_date: string; reprocess_behavior: "none" | "failed" | "completed"; run_backwards: boolean; dag_run_conf: Record<string, unknown>; max_active_runs?: number };

function request(body: Body) {
  return {
    dagId: body.dag_id,
    fromDate: new Date(body.from_date),
    toDate: new Date(body.to_date),
    reprocessBehavior: body.reprocess_behavior,
    runBackwards: body.run_backwards,
    dagRunConf: body.dag_run_conf,
  };
}

async function dryRunDirect(store: Store, body: Body): Promise<string[]> {
  const plan = await planBackfill(store.db, request(body));
  return plan.dates.filter((d) => !d.skipReason).map((d) => d.interval.start.toISOString());
}

async function createDirect(store: Store, body: Body): Promise<{ id: number }> {
  const b = await createBackfill(store.db, { ...request(body), maxActiveRuns: body.max_active_runs, triggeringUserName: "cli" });
  return { id: Number(b.id) };
}

async function progressDirect(store: Store, backfillId: number): Promise<Progress> {
  const [runs, backfill] = await Promise.all([
    store.db.selectFrom("backfill_dag_runs as b").leftJoin("dag_runs as r", "r.id", "b.dag_run_id").select(["r.state"]).where("b.backfill_id", "=", backfillId).where("b.exception_reason", "is", null).execute(),
    store.db.selectFrom("backfills").select("completed_at").where("id", "=", backfillId).executeTakeFirstOrThrow(),
  ]);
  return {
    total: runs.length,
    success: runs.filter((r) => r.state === "success").length,
    failed: runs.filter((r) => r.state === "failed").length,
    completed: backfill.completed_at !== null,
  };
}

function restApi(url: string, token: string) {
  const call = async <T>(method: string, path: string, body?: unknown): Promise<T> => {
    const res = await fetch(`${url}/api/v2${path}`, {
      method,
      headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = (await res.json()) as T & { detail?: unknown };
    if (!res.ok) {
      const detail = json.detail;
      const message = typeof detail === "string" ? detail : Array.isArray(detail) ? detail.map((d: { loc?: unknown[]; msg?: string }) => `${(d.loc ?? []).slice(1).join(".")}: ${d.msg}`).join("; ") : JSON.stringify(detail);
      throw new UpdraftError(message, "api", res.status);
    }
    return json;
  };
  return {
    async dryRun(body: Body): Promise<string[]> {
      const r = await call<{ backfills: { logical_date: string }[] }>("POST", "/backfills/dry_run", body);
      return r.backfills.map((b) => b.logical_date);
    },
    create: (body: Body) => call<{ id: number }>("POST", "/backfills", body),
    async progress(id: number, dagId: string, dates: string[]): Promise<Progress> {
      const backfill = await call<{ completed_at: string | null }>("GET", `/backfills/${id}`);
      const wanted = new Set(dates);
      const latest = new Map<string, { state: string; id: number }>();
      const sorted = [...dates].sort();
      for (let offset = 0; ; offset += 100) {
        const q = new URLSearchParams({ logical_date_gte: sorted[0]!, logical_date_lte: sorted.at(-1)!, limit: "100", offset: String(offset), order_by: "id" });
        const page = await call<{ dag_runs: { logical_date: string | null; state: string }[]; total_entries: number }>("GET", `/dags/${encodeURIComponent(dagId)}/dagRuns?${q}`);
        page.dag_runs.forEach((r, i) => {
          if (r.logical_date && wanted.has(r.logical_date)) latest.set(r.logical_date, { state: r.state, id: offset + i });
        });
        if (offset + 100 >= page.total_entries) break;
      }
      const states = [...latest.values()].map((r) => r.state);
      return { total: dates.length, success: states.filter((s) => s === "success").length, failed: states.filter((s) => s === "failed").length, completed: backfill.completed_at !== null };
    },
  };
}
