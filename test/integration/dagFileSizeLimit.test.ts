// A DAG file over UPDRAFT_DAG_FILE_MAX_BYTES is refused from its size alone — never bundled or
// imported — and recorded as an import error naming the file, its size and the limit. It changes
// nothing else stored: the other DAGs load, and a DAG whose file grew past the limit keeps its
// last good version.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../engine/config.js";
import { bundleDagFile } from "../../engine/dagfile/bundle.js";
import { createLogger } from "../../engine/logger.js";
import { DagProcessor } from "../../scheduler/dagProcessor.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";

const LIMIT = 20_000;
const dagSource = (id: string, padding = 0) => `import { dag } from "updraft";\n// ${"x".repeat(padding)}\nexport default dag({ id: "${id}" }, (d) => { d.task("a", () => 1); });\n`;
// Over the limit, and not even valid code: an error about its syntax would mean it was parsed.
const OVERSIZED = `import { dag } from "updraft";\nexport default dag({ id: "oversized" }, (d) => { d.task(; });\nconst blob = "${"y".repeat(LIMIT)}";\n`;

it("UPDRAFT_DAG_FILE_MAX_BYTES defaults to 5 MB and is read from the environment", () => {
  expect(loadConfig({}).dagFileMaxBytes).toBe(5 * 1024 * 1024);
  expect(loadConfig({ UPDRAFT_DAG_FILE_MAX_BYTES: "1000" }).dagFileMaxBytes).toBe(1000);
  expect(() => loadConfig({ UPDRAFT_DAG_FILE_MAX_BYTES: "-1" })).toThrow(/UPDRAFT_DAG_FILE_MAX_BYTES/);
});

it("bundleDagFile refuses an oversized file before esbuild reads it", async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-dags-size-"));
  try {
    const file = path.join(dir, "oversized.ts");
    fs.writeFileSync(file, OVERSIZED);
    const size = fs.statSync(file).size;
    await expect(bundleDagFile(file, { maxFileBytes: LIMIT })).rejects.toMatchObject({
      line: 1,
      message: `${file}:1: the file is ${Number((size / 1024).toFixed(1))} KB (${size} bytes), over the DAG file size limit of 19.5 KB (UPDRAFT_DAG_FILE_MAX_BYTES): not bundled or imported`,
    });
    // Under a larger limit the same file is parsed, and fails on its syntax.
    await expect(bundleDagFile(file, { maxFileBytes: 10 * LIMIT })).rejects.toThrow(/Unexpected/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

describe.each(backends())("DAG file size limit on %s", (backend) => {
  let db: TestDatabase;
  let folder: string;
  let cacheDir: string;
  let processor: DagProcessor;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    folder = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-dags-size-"));
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-cache-size-"));
    fs.writeFileSync(path.join(folder, "good.ts"), dagSource("good"));
    fs.writeFileSync(path.join(folder, "grows.ts"), dagSource("grows"));
    fs.writeFileSync(path.join(folder, "oversized.ts"), OVERSIZED);
    processor = new DagProcessor(db.store, { dagsFolder: folder, cacheDir, importTimeoutMs: 10_000, maxFileBytes: LIMIT, logger: createLogger("silent"), watch: false });
    await processor.start();
  }, 60_000);
  afterAll(async () => {
    await processor?.close();
    await db?.drop();
    if (folder) fs.rmSync(folder, { recursive: true, force: true });
    if (cacheDir) fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  const errors = () => db.store.db.selectFrom("import_errors").select(["filename", "line", "stack_trace"]).orderBy("filename").execute();
  const dags = () => db.store.db.selectFrom("dags").select(["dag_id", "is_stale"]).orderBy("dag_id").execute();

  it("records an oversized file as an import error naming file, size and limit; the others load", async () => {
    const [e, ...rest] = await errors();
    expect(rest).toEqual([]);
    expect(e!.filename).toBe(path.join(folder, "oversized.ts"));
    expect(e!.line).toBe(1);
    expect(e!.stack_trace).toMatch(/oversized\.ts:1: the file is [\d.]+ KB \(\d+ bytes\), over the DAG file size limit of 19\.5 KB \(UPDRAFT_DAG_FILE_MAX_BYTES\)/);
    expect(await dags()).toEqual([
      { dag_id: "good", is_stale: false },
      { dag_id: "grows", is_stale: false },
    ]);
  });

  it("keeps a DAG's last good version when its file grows past the limit, and loads it again when it shrinks", async () => {
    const versions = () => db.store.db.selectFrom("dag_versions").select("version_number").where("dag_id", "=", "grows").execute();
    expect(await versions()).toHaveLength(1);
    fs.writeFileSync(path.join(folder, "grows.ts"), dagSource("grows", LIMIT));
    await processor.processFile(path.join(folder, "grows.ts"));
    expect((await errors()).map((e) => path.basename(e.filename))).toEqual(["grows.ts", "oversized.ts"]);
    expect(await dags()).toEqual([
      { dag_id: "good", is_stale: false },
      { dag_id: "grows", is_stale: false },
    ]);
    expect(await versions()).toHaveLength(1);

    // The padding is a comment: back under the limit, the code is the version it had.
    fs.writeFileSync(path.join(folder, "grows.ts"), dagSource("grows", 10));
    await processor.processAll();
    expect((await errors()).map((e) => path.basename(e.filename))).toEqual(["oversized.ts"]);
    expect(await versions()).toHaveLength(1);
  });
});
