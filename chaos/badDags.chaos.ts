// A corpus of bad DAG files next to a good one (issue 8 item 7): syntax error, cycle, duplicate
// task ids, a throw at import, an infinite loop at import, a 50 MB file, a missing module. The
// scheduler process must not crash, each bad file must become an import error naming its file
// and line (the infinite loop: where it was spinning at the time limit; the 50 MB file: refused
// for its size, over UPDRAFT_DAG_FILE_MAX_BYTES, line 1), and the good DAG must keep running.
import { sql } from "kysely";
import { afterAll, expect, it } from "vitest";
import { createRun } from "../engine/store/runs/createRun.js";
import { alive, startCluster, waitFor, type Cluster } from "./lib/cluster.js";
import { recordFigure } from "./lib/figures.js";

let cluster: Cluster | undefined;

afterAll(async () => {
  await cluster?.stop();
});

const HEAD = `import { dag } from "updraft";\n`;
/** File name → source. The line each error should name is the one marked `// <- here`. */
const BAD: Record<string, string> = {
  "syntax.ts": `${HEAD}export default dag({ id: "syntax" }, (d) => {\n  d.task("a", () => 1;  // <- here\n});\n`,
  // A cycle is no one line's fault: the error points at the first task in it.
  "cycle.ts": `${HEAD}export default dag({ id: "cycle" }, (d) => {\n  const a = d.task("a", () => 1); // <- here\n  const b = d.task("b", () => 2);\n  a.before(b);\n  b.before(a);\n});\n`,
  "duplicate.ts": `${HEAD}export default dag({ id: "duplicate" }, (d) => {\n  d.task("same", () => 1);\n  d.task("same", () => 2); // <- here\n});\n`,
  "throws.ts": `${HEAD}const config = JSON.parse("{not json"); // <- here\nexport default config;\n`,
  "loops.ts": `${HEAD}while (Date.now() > 0) {} // <- here\nexport default dag({ id: "loops" }, (d) => { d.task("a", () => 1); });\n`,
  "missing.ts": `${HEAD}import { helper } from "./lib/does-not-exist.js"; // <- here\nexport default dag({ id: "missing" }, (d) => { d.task("a", () => helper()); });\n`,
  "huge.ts": `import { dag } from "updraft"; // <- here: refused for its size, before it is parsed\nexport const blob = "${"x".repeat(50 * 1024 * 1024)}";\nexport default dag({ id: "huge" }, (d) => { d.task("a", () => blob.length); });\n`,
};

it("survives a corpus of bad DAG files, naming file and line, while the good DAG runs", async () => {
  cluster = await startCluster(
    { ...BAD, "good.ts": `${HEAD}export default dag({ id: "good" }, (d) => { const a = d.task("a", () => 1); d.task("b", [a], (_c, x) => x + 1); });\n` },
    { UPDRAFT_DAG_IMPORT_TIMEOUT_MS: "5000" },
  );
  const { store } = cluster;
  const scheduler = cluster.start("scheduler");
  cluster.start("worker", { args: ["--slots", "2"] });

  await waitFor("the good DAG", () => store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", "good").executeTakeFirst(), 120_000);
  const run = await createRun(store.db, { dagId: "good", runType: "manual", logicalDate: new Date() });
  const state = await waitFor("the good DAG's run to end", async () => {
    const r = await store.db.selectFrom("dag_runs").select("state").where("id", "=", run.id).executeTakeFirstOrThrow();
    return r.state === "success" || r.state === "failed" ? r.state : null;
  }, 120_000);
  const expected = Object.keys(BAD);
  const errors = await waitFor("an import error for each bad file", async () => {
    const rows = await store.db.selectFrom("import_errors").select(["filename", "line", "stack_trace"]).execute();
    return expected.every((f) => rows.some((r) => r.filename.endsWith(f))) ? rows : null;
  }, 120_000);
  const huge = await store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", "huge").executeTakeFirst();
  const hugeError = errors.find((e) => e.filename.endsWith("huge.ts"));
  const hugeRefused = !huge && /the file is 50 MB \(\d+ bytes\), over the DAG file size limit of 5 MB \(UPDRAFT_DAG_FILE_MAX_BYTES\)/.test(hugeError?.stack_trace ?? "");

  const loopError = errors.find((r) => r.filename.endsWith("loops.ts"));
  const named = expected.filter((f) => {
    const e = errors.find((r) => r.filename.endsWith(f));
    const want = BAD[f]!.split("\n").findIndex((l) => l.includes("// <- here")) + 1;
    const ok = e?.line === want;
    if (!ok) console.log(`[chaos] ${f}: line ${e?.line ?? "none"}, wanted ${want}: ${e?.stack_trace.split("\n")[0]}`);
    return ok;
  });
  const crashes = alive(scheduler) ? 0 : 1;
  const stillRunning = await store.db.selectFrom("scheduler_heartbeats").select(sql<number>`count(*)::int`.as("n")).executeTakeFirstOrThrow();

  const scenario = "bad DAG corpus (syntax, cycle, duplicate ids, throws, infinite loop, 50 MB, missing module)";
  recordFigure({ scenario, figure: "scheduler crashes", value: String(crashes), goal: "0", ok: crashes === 0 });
  recordFigure({ scenario, figure: "import errors naming file and line", value: `${named.length} of ${expected.length}`, goal: `${expected.length} of ${expected.length}`, ok: named.length === expected.length });
  recordFigure({ scenario, figure: "the 50 MB file (limit UPDRAFT_DAG_FILE_MAX_BYTES = 5 MB)", value: huge ? "loaded" : hugeRefused ? "refused for its size, not bundled" : hugeError ? `import error: ${hugeError.stack_trace.split("\n")[0]!.slice(0, 120)}` : "neither", goal: "refused for its size", ok: hugeRefused });
  recordFigure({ scenario, figure: "the good DAG's run", value: state, goal: "success", ok: state === "success" });
  expect(crashes).toBe(0);
  expect(stillRunning.n).toBe(1);
  expect(state).toBe("success");
  expect(named).toEqual(expected);
  expect(loopError?.stack_trace).toMatch(/took longer than 5000 ms \(UPDRAFT_DAG_IMPORT_TIMEOUT_MS\): still running at .*loops\.ts:2$/);
  expect(hugeRefused).toBe(true);
});
