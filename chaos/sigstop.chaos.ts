// SIGSTOP a worker mid-task past the heartbeat timeout, then SIGCONT it (issue 8 item 7): the
// reaper retries the TI on the other worker, and when the paused worker wakes up and reports its
// (stale) try, the report is refused — no late write is ever accepted.
import { afterAll, expect, it } from "vitest";
import { createRun } from "../engine/store/runs/createRun.js";
import { alive, QUICK, startCluster, waitFor, workerIdPrefix, type Cluster, type Proc } from "./lib/cluster.js";
import { recordFigure } from "./lib/figures.js";

const PAUSES = QUICK ? 2 : 5;
let cluster: Cluster | undefined;

afterAll(async () => {
  await cluster?.stop();
});

const DAG = `
import { dag } from "updraft";
export default dag({ id: "paused", maxActiveRuns: 1 }, (d) => {
  d.task("sleepy", async () => { await new Promise((r) => setTimeout(r, 1_500)); return "done"; }, { retries: 3, retryDelay: "10ms" });
});`;

it(`accepts no late write from a worker paused past the heartbeat timeout, ${PAUSES} times`, async () => {
  cluster = await startCluster({ "paused.ts": DAG });
  const { store } = cluster;
  cluster.start("scheduler");
  await waitFor("the DAG to be parsed", () => store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", "paused").executeTakeFirst(), 60_000);
  const workers: Proc[] = [cluster.start("worker", { args: ["--slots", "1"] }), cluster.start("worker", { args: ["--slots", "1"] })];
  await waitFor("two workers", async () => (await store.db.selectFrom("workers").select("worker_id").execute()).length === 2, 60_000);

  let lateAccepted = 0;
  let refused = 0;
  for (let i = 0; i < PAUSES; i++) {
    const run = await createRun(store.db, { dagId: "paused", runType: "manual", logicalDate: new Date() });
    const ti = await waitFor("the task to run", () => store.db.selectFrom("task_instances").select(["id", "worker_id", "try_number"]).where("run_pk", "=", run.id).where("state", "=", "running").executeTakeFirst(), 60_000, 10);
    const paused = workers.find((w) => ti.worker_id!.startsWith(workerIdPrefix(w)))!;
    const other = workers.find((w) => w !== paused)!;
    const refusedBefore = (paused.output().match(/losing its lease/g) ?? []).length;
    paused.child.kill("SIGSTOP");
    try {
      // Reaped after 2 s without heartbeat, retried and finished by the other worker.
      await waitFor("the retry to succeed elsewhere", async () => {
        const now = await store.db.selectFrom("task_instances").select(["state", "try_number"]).where("id", "=", ti.id).executeTakeFirstOrThrow();
        return now.state === "success" && now.try_number > ti.try_number;
      }, 60_000);
    } finally {
      paused.child.kill("SIGCONT");
    }
    // The paused worker's runner finished meanwhile; its report comes now and must be refused.
    await waitFor("the paused worker's report to be refused", async () => (paused.output().match(/losing its lease/g) ?? []).length > refusedBefore, 30_000);
    refused++;

    const tries = await store.db.selectFrom("task_instance_tries").select(["try_number", "state", "worker_id"]).where("ti_id", "=", ti.id).orderBy("try_number").execute();
    const final = await store.db.selectFrom("task_instances").select(["state", "try_number", "worker_id"]).where("id", "=", ti.id).executeTakeFirstOrThrow();
    const stale = tries.find((t) => t.try_number === ti.try_number);
    // A late write would show as the stale try in success, or the TI owned by the paused worker.
    if (stale?.state === "success" || final.worker_id?.startsWith(workerIdPrefix(paused))) lateAccepted++;
    expect(final.worker_id?.startsWith(workerIdPrefix(other))).toBe(true);
    expect(alive(paused)).toBe(true);
  }

  const scenario = `SIGSTOP a worker past the heartbeat timeout, SIGCONT ×${PAUSES}`;
  recordFigure({ scenario, figure: "late writes accepted", value: `${lateAccepted} (${refused} stale reports refused)`, goal: "0", ok: lateAccepted === 0 });
  expect(lateAccepted).toBe(0);
  expect(refused).toBe(PAUSES);
});
