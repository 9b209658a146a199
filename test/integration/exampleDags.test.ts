// The example DAGs of dags/ load as `npm start` loads them: every file bundles and imports without
// an import error, the helper modules of dags/lib are not taken for DAG files, and the pipelines of
// issue 7 have the shape and limits the issue asks for (no database or worker needed).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { loadDagFolder } from "../../engine/dagfile/loadFolder.js";
import { listDagFiles } from "../../engine/dagfile/listDagFiles.js";
import { ROOT } from "../helpers/paths.js";

const DAGS = path.join(ROOT, "dags");
const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-example-dags-"));
afterAll(() => fs.rmSync(cacheDir, { recursive: true, force: true }));

describe("the example DAGs folder", () => {
  it("has no helper module among its DAG files", () => {
    expect(listDagFiles(DAGS).filter((f) => f.includes(`${path.sep}lib${path.sep}`))).toEqual([]);
  });

  it("loads every file without an import error, from a bundle cache outside the repository", async () => {
    const files = await loadDagFolder(DAGS, cacheDir);
    expect(files.filter((f) => f.error).map((f) => `${f.fileloc}: ${f.error!.message}`)).toEqual([]);
    const structures = new Map(files.flatMap((f) => f.structures).map((s) => [s.dagId, s]));
    const etl = structures.get("weather_etl")!;
    expect(etl).toMatchObject({ catchup: true, maxActiveRuns: 8 });
    expect(etl.schedule).not.toBeNull();
    expect(etl.tasks.map((t) => t.taskId).sort()).toEqual(["extract", "load", "monthly_aggregate", "transform", "validate"]);
    const model = structures.get("weather_model")!;
    expect(model.tasks.find((t) => t.taskId === "beats_production")?.kind).toBe("branch");
  }, 60_000);

  it("keeps @duckdb/node-api out of the bundle, imported by absolute path", async () => {
    const { bundleDagFile } = await import("../../engine/dagfile/bundle.js");
    const { bundle } = await bundleDagFile(path.join(DAGS, "weather_etl.ts"));
    expect(bundle).toContain(`import(${JSON.stringify(path.join(ROOT, "node_modules", "@duckdb", "node-api", "lib", "index.js"))})`);
  });
});
