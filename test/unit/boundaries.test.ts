// The import arrows of DESIGN §1, checked through the project's own eslint.config.js: a forbidden
// import is an error naming the rule, a legal one lints clean.
import path from "node:path";
import { fileURLToPath } from "node:url";
import { ESLint } from "eslint";
import { beforeAll, describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: ROOT });
});

/** Lints `code` as if it were the file `file` (relative to the repo root); returns rule ids and messages. */
async function lint(file: string, code: string): Promise<{ ruleId: string | null; message: string }[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(ROOT, file) });
  return (result?.messages ?? []).map((m) => ({ ruleId: m.ruleId, message: m.message }));
}

const forbidden: [string, string, string][] = [
  // [file, import specifier, component named in the message]
  ["scheduler/scheduler.ts", "../worker/worker.js", "scheduler/"],
  ["scheduler/scheduler.ts", "../web/server/app.js", "scheduler/"],
  ["scheduler/sub/deep.ts", "../../worker/runnerPool.js", "scheduler/"],
  ["worker/worker.ts", "../scheduler/scheduler.js", "worker/"],
  ["worker/worker.ts", "../web/server/app.js", "worker/"],
  ["web/server/app.ts", "../../scheduler/scheduler.js", "web/server/"],
  ["web/server/routes/dags.ts", "../../../worker/worker.js", "web/server/"],
  ["engine/semantics/states.ts", "../../scheduler/scheduler.js", "engine/"],
  ["engine/store/tasks/finishTask.ts", "../../../worker/worker.js", "engine/"],
  ["engine/config.ts", "../web/server/app.js", "engine/"],
  ["engine/config.ts", "../bin/updraft.js", "engine/"],
];

describe("import boundaries (DESIGN §1)", () => {
  it.each(forbidden)("%s may not import %s", async (file, specifier, component) => {
    const messages = await lint(file, `import { thing } from "${specifier}";\nexport const value = thing;\n`);
    expect(messages).toHaveLength(1);
    expect(messages[0]?.ruleId).toBe("no-restricted-imports");
    expect(messages[0]?.message).toContain(component);
  });

  it("catches type-only imports and re-exports too", async () => {
    expect(await lint("scheduler/x.ts", `import type { Thing } from "../worker/worker.js";\nexport type T = Thing;\n`)).toEqual([
      expect.objectContaining({ ruleId: "no-restricted-imports" }),
    ]);
    expect(await lint("worker/x.ts", `export * from "../scheduler/scheduler.js";\n`)).toEqual([expect.objectContaining({ ruleId: "no-restricted-imports" })]);
  });

  it("catches dynamic import()", async () => {
    const messages = await lint("scheduler/x.ts", `export const mod = await import("../worker/worker.js");\n`);
    expect(messages).toEqual([expect.objectContaining({ ruleId: "no-restricted-syntax", message: expect.stringContaining("scheduler/") })]);
  });

  it.each([
    ["scheduler/scheduler.ts", "../engine/store/db.js"],
    ["scheduler/scheduler.ts", "./dagProcessor.js"],
    ["worker/worker.ts", "../engine/semantics/retry.js"],
    ["worker/worker.ts", "../engine/store/workers.js"],
    ["web/server/app.ts", "../../engine/store/db.js"],
    ["engine/store/tasks/finishTask.ts", "../../semantics/states.js"],
    ["engine/store/tasks/finishTask.ts", "../../store/workers.js"],
    ["bin/updraft.ts", "../scheduler/scheduler.js"],
    ["bin/updraft.ts", "../worker/worker.js"],
    ["test/unit/x.test.ts", "../../worker/worker.js"],
  ])("%s may import %s", async (file, specifier) => {
    expect(await lint(file, `import { thing } from "${specifier}";\nexport const value = thing;\n`)).toEqual([]);
  });

  it("leaves npm packages alone, even one named like a folder", async () => {
    expect(await lint("worker/x.ts", `import { thing } from "scheduler";\nexport const value = thing;\n`)).toEqual([]);
  });
});
