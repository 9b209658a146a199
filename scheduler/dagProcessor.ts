// The DAG processor (DESIGN §4): bundles each DAG file with esbuild, imports it in a child process
// under a time limit, and records versions or import errors. Watches the folder so that an
// edited file is live within about a second.
import fs from "node:fs";
import path from "node:path";
import chokidar, { type FSWatcher } from "chokidar";
import type { Logger } from "pino";
import type { Store } from "../engine/store/db.js";
import { bundleDagFile, BundleError } from "../engine/dagfile/bundle.js";
import { ensureBundleFile } from "../engine/dagfile/bundleCache.js";
import { DagImporter } from "../engine/dagfile/importer.js";
import { forgetDagFile, recordImportError, syncDagFile } from "../engine/store/dags/syncDagFile.js";
import { refreshNextRun } from "../engine/store/runs/scheduleRuns.js";
import { withDbRetry } from "../engine/store/sqlstate.js";
import { isDagFile, listDagFiles } from "../engine/dagfile/listDagFiles.js";
import { gitCommit } from "./gitCommit.js";

export interface DagProcessorOptions {
  dagsFolder: string;
  cacheDir: string;
  importTimeoutMs: number;
  logger: Logger;
  watch: boolean;
  /** Called after a file's DAGs were recorded. */
  onChange?: (dagIds: string[]) => void;
  /** Debounce for bursts of file events (an editor's save writes several times). */
  debounceMs?: number;
}

export class DagProcessor {
  private readonly importer: DagImporter;
  private watcher: FSWatcher | null = null;
  /** File → the local files it bundles, so an edited helper re-parses the DAG files that use it. */
  private readonly dependencies = new Map<string, string[]>();
  private readonly lastHash = new Map<string, string>();
  private pending = new Set<string>();
  private flushTimer: NodeJS.Timeout | null = null;
  private processing: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly options: DagProcessorOptions,
  ) {
    this.importer = new DagImporter(options.importTimeoutMs);
  }

  async start(): Promise<void> {
    const folder = path.resolve(this.options.dagsFolder);
    await this.processAll();
    if (!this.options.watch) return;
    this.watcher = chokidar.watch(folder, { ignoreInitial: true, ignored: (p) => p.includes(`${path.sep}node_modules`) || path.basename(p).startsWith(".") });
    const changed = (file: string) => this.enqueue(path.resolve(file));
    this.watcher.on("add", changed).on("change", changed).on("unlink", changed);
    await new Promise<void>((resolve) => this.watcher!.once("ready", () => resolve()));
  }

  /** Parses every DAG file of the folder once; files gone from the folder are forgotten. */
  async processAll(): Promise<void> {
    const files = listDagFiles(path.resolve(this.options.dagsFolder));
    for (const file of files) {
      // One file's failure to be recorded (say, the database restarting) must not stop the rest.
      await this.processFile(file).catch((err) => this.options.logger.error({ err, file }, "processing a DAG file failed"));
    }
    const known = await this.store.db.selectFrom("dags").select("fileloc").distinct().where("is_stale", "=", false).execute();
    const erroring = await this.store.db.selectFrom("import_errors").select("filename").execute();
    const present = new Set(files);
    for (const f of new Set([...known.map((k) => k.fileloc), ...erroring.map((e) => e.filename)])) {
      if (!present.has(f) && f.startsWith(path.resolve(this.options.dagsFolder) + path.sep)) await forgetDagFile(this.store.db, f);
    }
  }

  private enqueue(file: string): void {
    this.pending.add(file);
    for (const [dagFile, deps] of this.dependencies) if (deps.includes(file)) this.pending.add(dagFile);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.flushTimer = setTimeout(() => {
      const files = [...this.pending];
      this.pending.clear();
      this.processing = this.processing.then(async () => {
        for (const f of files) await this.processFile(f).catch((err) => this.options.logger.error({ err, file: f }, "processing a DAG file failed"));
      });
    }, this.options.debounceMs ?? 50);
  }

  /** Resolves when all file events seen so far are processed (for tests and benchmarks). */
  async idle(): Promise<void> {
    while (this.flushTimer && this.pending.size) await new Promise((r) => setTimeout(r, 20));
    await this.processing;
  }

  async processFile(file: string): Promise<void> {
    const log = this.options.logger;
    const rel = path.relative(this.options.dagsFolder, file);
    if (!fs.existsSync(file) || !isDagFile(file)) {
      this.dependencies.delete(file);
      this.lastHash.delete(file);
      await forgetDagFile(this.store.db, file);
      return;
    }
    let bundled;
    try {
      bundled = await bundleDagFile(file);
    } catch (err) {
      const line = err instanceof BundleError ? err.line : null;
      await recordImportError(this.store.db, file, (err as Error).message, line);
      this.lastHash.delete(file);
      log.warn({ file: rel }, `import error: ${(err as Error).message}`);
      return;
    }
    this.dependencies.set(file, bundled.inputs);
    if (this.lastHash.get(file) === bundled.codeHash) return;
    const bundleFile = ensureBundleFile(this.options.cacheDir, bundled.codeHash, bundled.bundle);
    const result = await this.importer.import(bundleFile, file);
    if ("error" in result) {
      await recordImportError(this.store.db, file, result.error.stack || result.error.message, result.error.line);
      this.lastHash.delete(file);
      log.warn({ file: rel, line: result.error.line }, `import error: ${result.error.message}`);
      return;
    }
    // Two schedulers recording the same new version at once: the loser's insert hits the unique
    // index (23505); running it again finds the winner's row.
    const synced = await withDbRetry(() => syncDagFile(this.store.db, {
      fileloc: file,
      relativeFileloc: rel,
      source: bundled.source,
      bundle: bundled.bundle,
      codeHash: bundled.codeHash,
      structures: result.structures,
      bundleVersion: gitCommit(this.options.dagsFolder),
    }), { retryable: (err) => (err as { code?: string }).code === "23505" });
    this.lastHash.set(file, bundled.codeHash);
    for (const s of result.structures) await refreshNextRun(this.store.db, s.dagId);
    if (synced.changed.length) log.info({ file: rel, dags: synced.changed }, "DAG versions recorded");
    this.options.onChange?.(result.structures.map((s) => s.dagId));
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.watcher?.close();
    await this.processing.catch(() => {});
    this.importer.close();
  }
}
