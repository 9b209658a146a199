// A child process entry (TypeScript) bundled once into plain JavaScript, so that the child runs on
// plain `node` instead of through tsx. tsx's module hooks run on a thread of their own, with their
// own V8 heap, plus an esbuild service process per child: a task runner through tsx stood at
// 80–110 MB resident while idle (issue 9, memory benchmark). The bundle keeps npm packages as
// imports (`packages: "external"`) and is written under the repository's node_modules/.cache,
// where those imports resolve as they do from the sources; its name is the hash of its text, so it
// is written once per version of the code. When it cannot be built or written (a read-only
// install), the child runs through tsx as before.
import { fork, type ChildProcess, type StdioOptions } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import * as esbuild from "esbuild";

const require = createRequire(import.meta.url);

/** `<repo>/node_modules/.cache/updraft`: next to the packages the bundle imports. */
function cacheDir(): string {
  const esbuildDir = path.dirname(require.resolve("esbuild/package.json"));
  return path.join(path.dirname(esbuildDir), ".cache", "updraft");
}

const built = new Map<string, Promise<string | null>>();

async function build(entry: string): Promise<string> {
  const name = path.basename(entry).replace(/\.[cm]?ts$/, "");
  const result = await esbuild.build({
    entryPoints: [entry],
    bundle: true,
    packages: "external",
    write: false,
    format: "esm",
    platform: "node",
    target: "node20",
    // A stack trace through engine code points at the TypeScript source (the child runs with
    // --enable-source-maps for the DAG bundles' own inline maps anyway).
    sourcemap: "external",
    sourcesContent: false,
    outfile: path.join(cacheDir(), `${name}.mjs`),
    logLevel: "silent",
  });
  const code = result.outputFiles.find((f) => f.path.endsWith(".mjs"))!;
  const map = result.outputFiles.find((f) => f.path.endsWith(".map"));
  const hash = createHash("sha256").update(code.contents).digest("hex").slice(0, 16);
  const file = path.join(cacheDir(), `${name}-${hash}.mjs`);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(cacheDir(), { recursive: true });
    // Written under a temporary name and renamed: a process starting meanwhile never reads half a file.
    const write = (target: string, text: string) => {
      const tmp = `${target}.${process.pid}.tmp`;
      fs.writeFileSync(tmp, text);
      fs.renameSync(tmp, target);
    };
    if (map) write(`${file}.map`, map.text);
    write(file, `${code.text.replace(/\/\/# sourceMappingURL=\S+\s*$/, "")}//# sourceMappingURL=${path.basename(file)}.map\n`);
  }
  return file;
}

/**
 * The built JavaScript of `entry`, or null when it cannot be built (the caller then forks through
 * tsx). Built once per process and entry.
 */
export function builtEntry(entry: string): Promise<string | null> {
  let file = built.get(entry);
  if (!file) {
    file = build(entry).catch(() => null);
    built.set(entry, file);
  }
  return file;
}

/** Forks a built entry (from builtEntry) on plain node, as forkTs forks a TypeScript one. */
export function forkBuilt(
  file: string,
  options: { env?: NodeJS.ProcessEnv; cwd?: string; stdio?: StdioOptions; execArgv?: string[]; serialization?: "json" | "advanced" } = {},
): ChildProcess {
  return fork(file, [], {
    execArgv: ["--enable-source-maps", ...(options.execArgv ?? [])],
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: options.stdio ?? ["ignore", "pipe", "pipe", "ipc"],
    serialization: options.serialization ?? "advanced",
  });
}
