// A DAG file that never finishes importing: the import error names the line it was spinning on
// when the time limit hit (the importer child's watchdog thread, engine/dagfile/importWatchdog.ts),
// a loop in a helper names the helper's line and the DAG file's call into it, and an import that
// waits rather than spins still ends at the limit. The importer keeps working afterwards.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bundleDagFile } from "../../engine/dagfile/bundle.js";
import { ensureBundleFile } from "../../engine/dagfile/bundleCache.js";
import { DagImporter, type ImportResult } from "../../engine/dagfile/importer.js";

const TIMEOUT_MS = 1_000;
const HEAD = `import { dag } from "updraft";\n`;

const FILES: Record<string, string> = {
  "loops.ts": `${HEAD}const started = Date.now();\nwhile (Date.now() >= started) {}\nexport default dag({ id: "loops" }, (d) => { d.task("a", () => 1); });\n`,
  "in_callback.ts": `${HEAD}export default dag({ id: "in_callback" }, (d) => {\n  d.task("a", () => 1);\n  for (;;) Math.random();\n});\n`,
  "lib/spin.ts": `export function spin(): void {\n  let n = 0;\n  while (n >= 0) n = (n + 1) % 1000;\n}\n`,
  "in_helper.ts": `${HEAD}import { spin } from "./lib/spin.js";\n\nspin();\nexport default dag({ id: "in_helper" }, (d) => { d.task("a", () => 1); });\n`,
  "waits.ts": `${HEAD}await new Promise(() => {});\nexport default dag({ id: "waits" }, (d) => { d.task("a", () => 1); });\n`,
  "good.ts": `${HEAD}export default dag({ id: "good" }, (d) => { d.task("a", () => 1); });\n`,
};

describe("import time limit", () => {
  let folder: string;
  let cacheDir: string;
  let importer: DagImporter;

  beforeAll(() => {
    folder = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-dags-watchdog-"));
    cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-cache-watchdog-"));
    fs.mkdirSync(path.join(folder, "lib"));
    for (const [name, source] of Object.entries(FILES)) fs.writeFileSync(path.join(folder, name), source);
    importer = new DagImporter(TIMEOUT_MS);
  });
  afterAll(() => {
    importer?.close();
    fs.rmSync(folder, { recursive: true, force: true });
    fs.rmSync(cacheDir, { recursive: true, force: true });
  });

  const importFile = async (name: string): Promise<{ result: ImportResult; ms: number }> => {
    const fileloc = path.join(folder, name);
    const bundled = await bundleDagFile(fileloc);
    const started = Date.now();
    const result = await importer.import(ensureBundleFile(cacheDir, bundled.codeHash, bundled.bundle), fileloc);
    return { result, ms: Date.now() - started };
  };
  const problem = (r: ImportResult) => {
    if (!("error" in r)) throw new Error("expected an import error");
    return r.error;
  };

  it("names the line a top-level loop was on, in the existing error's words, without waiting for the backstop", async () => {
    const { result, ms } = await importFile("loops.ts");
    const e = problem(result);
    expect(e.line).toBe(3);
    expect(e.message).toBe(`importing the DAG file took longer than ${TIMEOUT_MS} ms (UPDRAFT_DAG_IMPORT_TIMEOUT_MS): still running at ${path.join(folder, "loops.ts")}:3`);
    expect(e.stack).toContain(`${path.join(folder, "loops.ts")}:3`);
    // The watchdog's report ends it; the parent's kill without one comes 2 s after the limit.
    // (The first import also starts the child: allow for that on a busy machine.)
    expect(ms).toBeLessThan(TIMEOUT_MS + 1_900 + 3_000);
  });

  it("names the line of a loop inside the DAG's callback", async () => {
    const e = problem((await importFile("in_callback.ts")).result);
    expect(e.line).toBe(4);
    expect(e.message).toMatch(/still running at .*in_callback\.ts:4$/);
  });

  it("names a helper module's line for a loop in it, and the DAG file's line that called it", async () => {
    const e = problem((await importFile("in_helper.ts")).result);
    expect(e.message).toMatch(new RegExp(`still running at ${path.join(folder, "lib", "spin.ts").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}:3$`));
    expect(e.line).toBe(4);
  });

  it("ends an import that waits forever at the limit, with no line to name", async () => {
    const { result, ms } = await importFile("waits.ts");
    const e = problem(result);
    expect(e.message).toBe(`importing the DAG file took longer than ${TIMEOUT_MS} ms (UPDRAFT_DAG_IMPORT_TIMEOUT_MS)`);
    expect(e.line).toBeNull();
    expect(ms).toBeGreaterThanOrEqual(TIMEOUT_MS);
  });

  it("imports the next file in a fresh child", async () => {
    const { result } = await importFile("good.ts");
    expect("structures" in result && result.structures.map((s) => s.dagId)).toEqual(["good"]);
  });
});
