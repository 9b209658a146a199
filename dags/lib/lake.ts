// Shared by the example ML pipelines: where the data lake is, where the demo datasets are, and a
// DuckDB connection for reading and writing Parquet in it.
//
// The lake lives under $UPDRAFT_HOME/lake. A task runs in a runner child process that inherits
// its worker's environment and working directory, so it resolves UPDRAFT_HOME the way
// engine/config.ts does (the same default, relative to the working directory).
import fs from "node:fs";
import path from "node:path";
import type { DuckDBConnection, DuckDBInstance } from "@duckdb/node-api";

// Spelled in two pieces: a file of the DAGs folder that contains the engine's name in lower case
// is taken for a DAG file (engine/dagfile/listDagFiles.ts), and this helper defines no DAG.
const DEFAULT_HOME = "./.upd" + "raft";

export function homeDir(): string {
  return path.resolve(process.env.UPDRAFT_HOME || DEFAULT_HOME);
}

export function lakePath(...parts: string[]): string {
  return path.join(homeDir(), "lake", ...parts);
}

/**
 * A file of an installed npm package, found by walking up from the running program and the working
 * directory to a node_modules folder that has it. By path on purpose: vega-datasets keeps its data
 * files out of its `exports`, so require.resolve cannot reach them, and a DAG bundle is imported
 * from the bundle cache, far from any node_modules.
 */
export function packageFile(pkg: string, ...rel: string[]): string {
  const anchors = [process.argv[1] ? path.dirname(path.resolve(process.argv[1])) : null, process.cwd()].filter((a): a is string => !!a);
  for (const anchor of anchors) {
    for (let dir = anchor; ; dir = path.dirname(dir)) {
      const candidate = path.join(dir, "node_modules", pkg);
      if (fs.existsSync(path.join(candidate, "package.json"))) return path.join(candidate, ...rel);
      if (path.dirname(dir) === dir) break;
    }
  }
  throw new Error(`package ${pkg} is not installed (looked in node_modules above ${anchors.join(" and ")})`);
}

let instance: Promise<DuckDBInstance> | null = null;

/**
 * Runs `fn` on a fresh connection to this process's in-memory DuckDB. One instance per runner
 * process (runners are warm: loaded once, reused by many tasks), limited to one thread: several
 * runners work at once during a catchup, and the machine has other work to do.
 */
export async function withDuckDb<T>(fn: (conn: DuckDBConnection) => Promise<T>): Promise<T> {
  // Loaded on first use, not at import: the DAG processor imports DAG files only to read their
  // structure, and need not load DuckDB's native library for that.
  instance ??= import("@duckdb/node-api").then(({ DuckDBInstance }) => DuckDBInstance.create(":memory:", { threads: "1", memory_limit: "256MB" }));
  const conn = await (await instance).connect();
  try {
    return await fn(conn);
  } finally {
    conn.closeSync();
  }
}

/** A path as a single-quoted SQL string literal (DuckDB's COPY and read_parquet take literals). */
export const sqlPath = (p: string) => `'${p.replaceAll("'", "''")}'`;

/**
 * Replaces directory `target` with what `write(tmpDir)` puts into a fresh temporary directory
 * beside it. Readers see the old or the new partition, never half of one: the new directory is
 * complete before it is renamed in (its temporary name starts with a dot, so globs such as
 * `date=*` skip it). Running it again replaces, never appends.
 */
export async function replaceDirectory(target: string, write: (tmpDir: string) => Promise<void>): Promise<void> {
  const parent = path.dirname(target);
  fs.mkdirSync(parent, { recursive: true });
  const stamp = `${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2, 8)}`;
  const tmp = path.join(parent, `.tmp-${path.basename(target)}-${stamp}`);
  const old = path.join(parent, `.old-${path.basename(target)}-${stamp}`);
  fs.mkdirSync(tmp);
  try {
    await write(tmp);
    // rename() cannot replace a non-empty directory: move the old one aside first (a reader in
    // that instant sees no partition, never a mixed one).
    if (fs.existsSync(target)) fs.renameSync(target, old);
    fs.renameSync(tmp, target);
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(old, { recursive: true, force: true });
  }
}

/** Writes `value` as JSON to `file` atomically (temporary file, then rename). */
export function writeJsonAtomic(file: string, value: unknown): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(value));
  fs.renameSync(tmp, file);
}
