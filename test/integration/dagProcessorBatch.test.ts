// The DAG processor's cold start works in batches (bundled together, imported with one message,
// recorded in one transaction): it must record exactly what file-by-file processing records —
// the same code hash, one version per DAG, the next run — and a bad file among many (a syntax
// error, a throw at import, an infinite loop at import, a DAG id another file owns) must become
// that file's import error with its line while every other file loads.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleDagFile } from "../../engine/dagfile/bundle.js";
import { createLogger } from "../../engine/logger.js";
import { refreshNextRun } from "../../engine/store/runs/scheduleRuns.js";
import { DagProcessor } from "../../scheduler/dagProcessor.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";

const FILES = 200;
const IMPORT_TIMEOUT_MS = 3_000;

const good = (i: number, extra = "") => `import { dag } from "updraft";

export default dag({ id: "gen_${i}", schedule: "@daily", start: "2024-01-01", tags: ["gen"] }, (d) => {
  const first = d.task("first", () => 1, { retries: 1 });
  let prev = first;
  for (let k = 0; k < 8; k++) {
    const t = d.task("step_" + k, () => k);
    d.chain(prev, t);
    prev = t;
  }
  d.chain(prev, d.task("last${extra}", () => 2));
});
`;

// Named so that they sort among the good files: the ones after them must load too.
const BAD: Record<string, { source: string; line: number | null; message: RegExp }> = {
  "gen_050_syntax.ts": { source: `import { dag } from "updraft";\n\nexport default dag({ id: "bad_syntax" }, (d) => { d.task(; });\n`, line: 3, message: /Unexpected/ },
  "gen_100_throws.ts": {
    source: `import { dag } from "updraft";\nconst x = 1;\n\nif (x) throw new Error("boom at import");\nexport default dag({ id: "bad_throws" }, (d) => { d.task("t", () => 1); });\n`,
    line: 4,
    message: /boom at import/,
  },
  // The watchdog names the line the loop was on when the time limit hit.
  "gen_150_loops.ts": { source: `import { dag } from "updraft";\nwhile (Date.now() > 0) {}\nexport default dag({ id: "bad_loops" }, (d) => { d.task("t", () => 1); });\n`, line: 2, message: /took longer than 3000 ms .*: still running at .*gen_150_loops\.ts:2/ },
  // gen_7 is defined by gen_007.ts, which sorts first and so owns it.
  "gen_199_duplicate.ts": { source: good(7), line: null, message: /DAG id "gen_7" is already defined in .*gen_007\.ts/ },
};

const fileOf = (i: number) => `gen_${String(i).padStart(3, "0")}.ts`;

describe.each(backends())("DAG processor cold start in batches on %s", (backend) => {
  let db: TestDatabase;
  let folder: string;
  let cacheDir: string;
  let processor: DagProcessor;
  let loadMs = 0;
  const changed: string[] = [];

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    folder = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-dags-batch-"));
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-cache-batch-"));
    for (let i = 0; i < FILES; i++) fs.writeFileSync(path.join(folder, fileOf(i)), good(i));
    for (const [name, bad] of Object.entries(BAD)) fs.writeFileSync(path.join(folder, name), bad.source);
    processor = new DagProcessor(db.store, {
      dagsFolder: folder,
      cacheDir,
      importTimeoutMs: IMPORT_TIMEOUT_MS,
      logger: createLogger(process.env.UPDRAFT_TEST_LOG_LEVEL ?? "silent"),
      watch: false,
      onChange: (ids) => changed.push(...ids),
    });
    const t0 = Date.now();
    await processor.start();
    loadMs = Date.now() - t0;
  }, 120_000);
  afterAll(async () => {
    await processor?.close();
    await db?.drop();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  it("records every good file's DAG with one version, the code hash of bundling that file alone, and its next run", async () => {
    const dags = await db.store.db
      .selectFrom("dags")
      .innerJoin("dag_versions", "dag_versions.id", "dags.latest_version_id")
      .select(["dags.dag_id", "dags.fileloc", "dags.is_stale", "dags.next_dagrun_run_after", "dag_versions.version_number", "dag_versions.code_hash", "dag_versions.structure"])
      .where("dags.dag_id", "like", "gen_%")
      .orderBy("dags.dag_id")
      .execute();
    expect(dags).toHaveLength(FILES);
    for (const d of dags) {
      const i = Number(d.dag_id.slice(4));
      expect(d.fileloc).toBe(path.join(folder, fileOf(i)));
      expect(d.is_stale).toBe(false);
      expect(d.version_number).toBe(1);
      expect((d.structure as { tasks: unknown[] }).tasks).toHaveLength(10);
      expect(d.next_dagrun_run_after).not.toBeNull();
    }
    expect(await db.store.db.selectFrom("dag_versions").select("id").where("dag_id", "like", "gen_%").execute()).toHaveLength(FILES);
    for (const i of [0, 7, 123, FILES - 1]) {
      const row = dags.find((d) => d.dag_id === `gen_${i}`)!;
      expect(row.code_hash).toBe((await bundleDagFile(path.join(folder, fileOf(i)))).codeHash);
      // The next run folded into the batch is the one refreshNextRun computes.
      const next = await refreshNextRun(db.store.db, `gen_${i}`);
      expect(next?.end.getTime()).toBe(new Date(row.next_dagrun_run_after!).getTime());
    }
    expect(new Set(changed)).toEqual(new Set(dags.map((d) => d.dag_id)));
    // The infinite loop costs its own time limit, not one per file after it.
    expect(loadMs).toBeLessThan(IMPORT_TIMEOUT_MS + 60_000);
  });

  it("turns each bad file into its own import error, with file and line", async () => {
    const errors = await db.store.db.selectFrom("import_errors").selectAll().orderBy("filename").execute();
    expect(errors.map((e) => path.basename(e.filename))).toEqual(Object.keys(BAD).sort());
    for (const e of errors) {
      const bad = BAD[path.basename(e.filename)]!;
      expect(e.line, e.filename).toBe(bad.line);
      expect(e.stack_trace).toMatch(bad.message);
      if (bad.line) expect(e.stack_trace).toContain(`${e.filename}:${bad.line}`);
    }
    const badIds = await db.store.db.selectFrom("dags").select("dag_id").where("dag_id", "like", "bad_%").execute();
    expect(badIds).toEqual([]);
  });

  it("records nothing new when nothing changed, and a new version for an edited file", async () => {
    await processor.processAll();
    expect(await db.store.db.selectFrom("dag_versions").select("id").where("dag_id", "like", "gen_%").execute()).toHaveLength(FILES);
    fs.writeFileSync(path.join(folder, fileOf(42)), good(42, "_edited"));
    await processor.processAll();
    const versions = await db.store.db.selectFrom("dag_versions").select(["version_number", "structure"]).where("dag_id", "=", "gen_42").orderBy("version_number").execute();
    expect(versions.map((v) => v.version_number)).toEqual([1, 2]);
    expect(JSON.stringify(versions[1]!.structure)).toContain("last_edited");
    // The fixed bad file loads and its error goes.
    fs.writeFileSync(path.join(folder, "gen_100_throws.ts"), good(1000));
    await processor.processAll();
    expect(await db.store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", "gen_1000").executeTakeFirst()).toEqual({ dag_id: "gen_1000" });
    const left = await db.store.db.selectFrom("import_errors").select("filename").execute();
    expect(left.map((e) => path.basename(e.filename)).sort()).toEqual(["gen_050_syntax.ts", "gen_150_loops.ts", "gen_199_duplicate.ts"]);
  }, 60_000);
});
