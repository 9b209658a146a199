// The DAG processor: versions are immutable and content-addressed; an edited file is live in ~1 s.
import fs from "node:fs";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";

const source = (n: number) => `
import { dag } from "updraft";
import { helper } from "./lib/helper.js";
export default dag({ id: "edited", tags: ["v${n}"] }, (d) => {
  d.task("t", () => helper());
});`;

describe.each(backends())("DAG processor on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let folder: string;

  beforeAll(async () => {
    db = await createTestDatabase(backend);
    folder = dagsFolderWith({ "edited.ts": source(1) });
    fs.mkdirSync(path.join(folder, "lib"));
    fs.writeFileSync(path.join(folder, "lib", "helper.ts"), "export const helper = () => 1;\n");
    engine = await startEngine(db.store, { dagsFolder: folder, worker: false, watch: true });
  });
  afterAll(async () => {
    await engine?.stop();
    await db?.drop();
  });

  const versions = () => db.store.db.selectFrom("dag_versions").select(["version_number", "structure", "code_hash"]).where("dag_id", "=", "edited").orderBy("version_number").execute();

  it("records one version per distinct content and a new one when the file is edited", async () => {
    expect((await versions()).length).toBe(1);
    await engine.scheduler.processor.processAll();
    expect((await versions()).length).toBe(1);

    const t0 = Date.now();
    fs.writeFileSync(path.join(folder, "edited.ts"), source(2));
    const v = await waitFor("version 2", async () => ((await versions()).length === 2 ? versions() : null), 5_000);
    expect(Date.now() - t0).toBeLessThan(3_000);
    expect((v[1]!.structure as { tags: string[] }).tags).toEqual(["v2"]);
  });

  it("re-parses a DAG file when a local module it imports changes", async () => {
    const before = (await versions()).length;
    fs.writeFileSync(path.join(folder, "lib", "helper.ts"), "export const helper = () => 2;\n");
    const v = await waitFor("a version with the new helper", async () => ((await versions()).length > before ? versions() : null), 5_000);
    const code = await db.store.db.selectFrom("dag_code").select("bundle").where("code_hash", "=", v.at(-1)!.code_hash).executeTakeFirstOrThrow();
    expect(code.bundle).toContain("=> 2");
  });

  it("turns a file that breaks into an import error and clears it when fixed, keeping the DAG", async () => {
    fs.writeFileSync(path.join(folder, "edited.ts"), "import { dag } from 'updraft';\nexport default dag({ id: 'edited' }, (d) => { d.task(; });\n");
    const err = await waitFor("the import error", () => db.store.db.selectFrom("import_errors").selectAll().executeTakeFirst(), 5_000);
    expect(err.line).toBe(2);
    expect(await db.store.db.selectFrom("dags").select(["dag_id", "is_stale"]).execute()).toEqual([{ dag_id: "edited", is_stale: false }]);
    fs.writeFileSync(path.join(folder, "edited.ts"), source(3));
    await waitFor("the import error to clear", async () => (await db.store.db.selectFrom("import_errors").selectAll().execute()).length === 0, 5_000);
  });

  it("marks a DAG stale when its file is deleted", async () => {
    fs.rmSync(path.join(folder, "edited.ts"));
    await waitFor("the DAG to go stale", async () => (await db.store.db.selectFrom("dags").select("is_stale").executeTakeFirst())?.is_stale === true, 5_000);
  });
});
