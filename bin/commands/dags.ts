// `updraft dags list|trigger|test`.
import path from "node:path";
import type { Config } from "../../engine/config.js";
import { UpdraftError, NotFoundError } from "../../engine/errors.js";
import { loadDagFolder } from "../../engine/dagfile/loadFolder.js";
import { migrate } from "../../engine/store/migrate.js";
import { openStoreFromConfig } from "../../engine/store/openFromConfig.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { testDag } from "../../engine/testing/testDag.js";
import { parseConf, parseDate } from "./shared.js";

export async function dagsListCommand(config: Config, json: boolean): Promise<void> {
  const files = await loadDagFolder(config.dagsFolder, undefined, { maxFileBytes: config.dagFileMaxBytes });
  const dags = files.flatMap((f) => f.structures.map((s) => ({ dag_id: s.dagId, fileloc: path.relative(process.cwd(), f.fileloc), schedule: s.schedule?.summary ?? null, tasks: s.tasks.length, tags: s.tags })));
  const errors = files.filter((f) => f.error).map((f) => ({ filename: f.fileloc, line: f.error!.line, message: f.error!.message.split("\n")[0] }));
  if (json) {
    console.log(JSON.stringify({ dags, import_errors: errors }, null, 2));
  } else {
    console.table(dags.map((d) => ({ ...d, tags: d.tags.join(",") })));
    for (const e of errors) console.error(`import error: ${e.filename}${e.line ? `:${e.line}` : ""}: ${e.message}`);
  }
  if (errors.length) process.exitCode = 1;
}

export async function dagsTriggerCommand(config: Config, dagId: string, opts: { conf?: string; runId?: string; logicalDate?: string }): Promise<void> {
  const conf = parseConf(opts.conf);
  const logicalDate = parseDate(opts.logicalDate, "--logical-date") ?? new Date();
  const { localAdminToken, runningServer } = await import("./localApi.js");
  const server = !config.databaseUrl ? runningServer(config) : null;
  if (server) {
    // PGlite is owned by the running standalone process: ask it over its API.
    const res = await fetch(`${server.url}/api/v2/dags/${encodeURIComponent(dagId)}/dagRuns`, {
      method: "POST",
      headers: { "content-type": "application/json", authorization: `Bearer ${await localAdminToken(config)}` },
      body: JSON.stringify({ logical_date: logicalDate.toISOString(), conf, ...(opts.runId ? { dag_run_id: opts.runId } : {}) }),
    });
    const body = (await res.json()) as { dag_run_id?: string; state?: string; detail?: unknown };
    if (!res.ok) throw new UpdraftError(typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail), "api", res.status);
    console.log(`created run ${body.dag_run_id} of ${dagId} (${body.state})`);
    return;
  }
  const store = await openStoreFromConfig(config, "updraft-cli");
  try {
    await migrate(store);
    const run = await createRun(store.db, { dagId, runId: opts.runId, runType: "manual", triggeredBy: "cli", logicalDate, conf });
    console.log(`created run ${run.run_id} of ${dagId} (${run.state})`);
  } finally {
    await store.close();
  }
}

const STATE_MARK: Record<string, string> = { success: "✔", failed: "✘", skipped: "↷", upstream_failed: "✘", none: "·" };

export async function dagsTestCommand(config: Config, dagId: string, opts: { date?: string; conf?: string }): Promise<void> {
  const conf = parseConf(opts.conf);
  const date = parseDate(opts.date, "--date");
  const files = await loadDagFolder(config.dagsFolder, undefined, { maxFileBytes: config.dagFileMaxBytes });
  const file = files.find((f) => f.structures.some((s) => s.dagId === dagId));
  if (!file) {
    const broken = files.filter((f) => f.error).map((f) => `${f.fileloc}: ${f.error!.message.split("\n")[0]}`);
    throw new NotFoundError(`DAG ${dagId} is not defined in ${config.dagsFolder}${broken.length ? ` (files with import errors: ${broken.join("; ")})` : ""}`);
  }
  const def = file.definitions.find((d) => d.id === dagId)!;
  console.log(`testing ${dagId} from ${path.relative(process.cwd(), file.fileloc)}${date ? ` for ${date.toISOString()}` : ""}`);
  const result = await testDag(def, {
    date,
    conf,
    // process.stdout, not console: console.* is the task's own log while it runs.
    onLog: (l) => process.stdout.write(`  [${l.taskId}] ${l.stream === "log" ? `${l.level}: ` : ""}${l.line}\n`),
    onTaskEnd: (taskId, r) => {
      const detail = r.state === "failed" && r.error ? `: ${r.error.split("\n")[0]}` : r.value !== undefined && r.value !== null ? ` → ${JSON.stringify(r.value).slice(0, 120)}` : "";
      console.log(`${STATE_MARK[r.state] ?? "?"} ${taskId} ${r.state} (${r.durationMs.toFixed(0)} ms)${detail}`);
    },
  });
  console.log(`run ${result.state}`);
  if (result.state !== "success") process.exitCode = 1;
}
