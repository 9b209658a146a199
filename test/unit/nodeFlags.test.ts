// The node flags and the environment that `updraft` starts with (bin/v8Flags.js says why they
// exist) are written in three places, since node and glibc read them only at start:
// bin/updraft.js's shebang (the installed `updraft` command), package.json's `start` and `updraft`
// scripts, and the Dockerfile (ENV and ENTRYPOINT). They must stay alike, and the shebang must run.
import { execFile } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { describe, expect, it } from "vitest";

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const read = (file: string) => fs.readFileSync(path.join(ROOT, file), "utf8");

/** A command line's leading VAR=value words, and the words between `node` and `bin/updraft.js`. */
function split(where: string, words: string[]): { env: string[]; flags: string[] } {
  const node = words.indexOf("node");
  const script = words.indexOf("bin/updraft.js");
  if (node < 0 || script < node) throw new Error(`${where} does not run \`node … bin/updraft.js\`: ${words.join(" ")}`);
  const env = words.slice(0, node);
  if (!env.every((w) => /^[A-Z_]+=\S*$/.test(w))) throw new Error(`${where}: only VAR=value before node: ${words.join(" ")}`);
  return { env, flags: words.slice(node + 1, script) };
}

describe("node flags of the updraft command", () => {
  const shebang = read("bin/updraft.js").split("\n")[0]!;
  const scripts = (JSON.parse(read("package.json")) as { scripts: Record<string, string> }).scripts;
  const entrypoint = /^ENTRYPOINT\s+(\[.*\])\s*$/m.exec(read("Dockerfile"));

  // After "#!/usr/bin/env", "-S"; the kernel appends the script's own path.
  const fromShebang = split("the shebang", [...shebang.split(/\s+/).slice(2), "bin/updraft.js"]);

  it("the shebang sets the young generation's maximum and malloc's arenas", () => {
    expect(shebang).toMatch(/^#!\/usr\/bin\/env -S /);
    expect(fromShebang.flags).toContain("--max-semi-space-size=4");
    expect(fromShebang.env).toContain("MALLOC_ARENA_MAX=2");
  });

  it("package.json's scripts and the Dockerfile give the shebang's flags and environment", () => {
    expect(split("scripts.start", scripts.start!.split(/\s+/))).toEqual(fromShebang);
    expect(split("scripts.updraft", scripts.updraft!.split(/\s+/))).toEqual(fromShebang);
    expect(entrypoint, "Dockerfile has an exec-form ENTRYPOINT").not.toBeNull();
    expect(split("Dockerfile ENTRYPOINT", JSON.parse(entrypoint![1]!) as string[]).flags).toEqual(fromShebang.flags);
    const dockerEnv = [...read("Dockerfile").matchAll(/^\s*(?:ENV\s+)?([A-Z_]+)=(\S+?)\s*\\?$/gm)].map((m) => `${m[1]}=${m[2]}`);
    for (const assignment of fromShebang.env) expect(dockerEnv).toContain(assignment);
  });

  it("bin/updraft.js runs as a program through its shebang", async () => {
    const { stdout } = await promisify(execFile)(path.join(ROOT, "bin/updraft.js"), ["--help"], { cwd: ROOT });
    expect(stdout).toMatch(/^Usage: updraft /m);
  });
});
