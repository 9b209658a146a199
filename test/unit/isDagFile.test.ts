// Which files are DAG files: those that mention "updraft". The word is searched a chunk at a time
// (a huge file must not be read whole only to be refused for its size), so it must be found where
// it straddles two chunks and at the end of a long file.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, expect, it } from "vitest";
import { isDagFile } from "../../engine/dagfile/listDagFiles.js";

const dir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-isdag-"));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));
const CHUNK = 1024 * 1024;

const file = (name: string, text: string) => {
  const f = path.join(dir, name);
  fs.writeFileSync(f, text);
  return f;
};

it.each([
  ["first chunk", "import { dag } from 'updraft';\n", true],
  ["straddling the first chunk boundary", `${"/".repeat(CHUNK - 3)}updraft`, true],
  ["at the end of a 3 MB file", `${" ".repeat(3 * CHUNK)}// updraft`, true],
  ["nowhere in a 3 MB file", `${"// updraf\n".repeat((3 * CHUNK) / 10)}`, false],
  ["an empty file", "", false],
])("the word %s → %s", (_what, text, expected) => {
  expect(isDagFile(file(`f${Math.random().toString(36).slice(2)}.ts`, text))).toBe(expected);
});

it("never takes tests, declarations or other extensions", () => {
  for (const name of ["a.test.ts", "a.d.ts", "a.json", "a.py"]) expect(isDagFile(file(name, "updraft"))).toBe(false);
});
