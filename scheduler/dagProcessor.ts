// The DAG processor (DESIGN §4): bundles each DAG file with esbuild, imports it in a child process
// under a time limit, and records versions or import errors. Watches the folder so that an
// edited file is live within about a second.
import fs from "node:fs";
import path from "node:path";
import chokidar, { type FSWatcher } from "chokidar";
import type { Logger } from "pino";
import type { Store } from "../engine/store/db.js";
import { bundleDagFile, bundleDagFiles, BundleError, type BundledFile } from "../engine/dagfile/bundle.js";
import { ensureBundleFile, ensureBundleFileAsync } from "../engine/dagfile/bundleCache.js";
import { DagImporter, type ImportResult } from "../engine/dagfile/importer.js";
import type { ImportProblem } from "../engine/dagfile/extractDags.js";
import type { DagStructure } from "../engine/model/structure.js";
import { forgetDagFile, recordImportError, syncDagFile, type SyncInput } from "../engine/store/dags/syncDagFile.js";
import { syncDagFiles } from "../engine/store/dags/syncDagFiles.js";
import { refreshNextRun } from "../engine/store/runs/scheduleRuns.js";
import { withDbRetry } from "../engine/store/sqlstate.js";
import { isDagFile, listDagFiles } from "../engine/dagfile/listDagFiles.js";
import { gitCommit } from "./gitCommit.js";

/** Files per batch at a cold start: large enough to share esbuild's parse of `updraft` and amortise commits, small enough to keep the pipeline moving. */
const BATCH_FILES = 50;

interface Imported {
  file: string;
  bundled: BundledFile;
  result: ImportResult;
}

export interface DagProcessorOptions {
  dagsFolder: string;
  cacheDir: string;
  importTimeoutMs: number;
  /** A DAG file larger than this is an import error, never bundled (UPDRAFT_DAG_FILE_MAX_BYTES); default 5 MB. */
  maxFileBytes?: number;
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

  /**
   * Parses every DAG file of the folder once; files gone from the folder are forgotten. At a cold
   * start this is a thousand files, so it works in batches, as a pipeline: while one batch is
   * imported in the importer child, the next is bundled by esbuild and the one before is
   * recorded in the database — three processes busy at once instead of one.
   */
  async processAll(): Promise<void> {
    const files = listDagFiles(path.resolve(this.options.dagsFolder));
    if (files.length) this.importer.warm();
    const batches: string[][] = [];
    for (let i = 0; i < files.length; i += BATCH_FILES) batches.push(files.slice(i, i + BATCH_FILES));
    const bundleBatch = (batch: string[]) => bundleDagFiles(batch, { maxFileBytes: this.options.maxFileBytes }).catch(() => null);
    let bundling = batches.length ? bundleBatch(batches[0]!) : null;
    let recording: Promise<void> = Promise.resolve();
    for (let b = 0; b < batches.length; b++) {
      const bundled = await bundling;
      bundling = b + 1 < batches.length ? bundleBatch(batches[b + 1]!) : null;
      // Not a file's error (those are per file) but, say, a file deleted meanwhile or the bundle
      // cache unwritable: this batch one file at a time, as processing was before batches.
      const imported = bundled ? await this.importBatch(batches[b]!, bundled).catch(() => null) : null;
      if (!imported) {
        await recording;
        for (const file of batches[b]!) await this.processFile(file).catch((err) => this.options.logger.error({ err, file }, "processing a DAG file failed"));
        continue;
      }
      // Recording waits for the batch before it (one writer, in file order); the next import does not.
      recording = recording.then(() => this.recordBatch(imported)).catch((err) => this.options.logger.error({ err }, "recording a batch of DAG files failed"));
    }
    await recording;
    const known = await this.store.db.selectFrom("dags").select("fileloc").distinct().where("is_stale", "=", false).execute();
    const erroring = await this.store.db.selectFrom("import_errors").select("filename").execute();
    const present = new Set(files);
    for (const f of new Set([...known.map((k) => k.fileloc), ...erroring.map((e) => e.filename)])) {
      if (!present.has(f) && f.startsWith(path.resolve(this.options.dagsFolder) + path.sep)) await forgetDagFile(this.store.db, f);
    }
  }

  /** Bundle errors recorded, unchanged files skipped, the rest imported with one message to the child. */
  private async importBatch(files: string[], bundled: Map<string, BundledFile | BundleError>): Promise<Imported[]> {
    const toImport: { file: string; bundled: BundledFile; bundleFile: Promise<string> }[] = [];
    for (const file of files) {
      const b = bundled.get(file);
      if (!b) continue;
      if (b instanceof BundleError) {
        await this.recordBundleError(file, b).catch((err) => this.options.logger.error({ err, file }, "processing a DAG file failed"));
        continue;
      }
      this.dependencies.set(file, b.inputs);
      if (this.lastHash.get(file) === b.codeHash) continue;
      toImport.push({ file, bundled: b, bundleFile: ensureBundleFileAsync(this.options.cacheDir, b.codeHash, b.bundle) });
    }
    if (!toImport.length) return [];
    const bundleFiles = await Promise.all(toImport.map((t) => t.bundleFile));
    const results = await this.importer.importMany(toImport.map((t, i) => ({ bundleFile: bundleFiles[i]!, fileloc: t.file })));
    return toImport.map((t, i) => ({ file: t.file, bundled: t.bundled, result: results[i]! }));
  }

  /** A batch's versions in one transaction; should that fail, file by file (one bad file must not stop the rest). */
  private async recordBatch(imported: Imported[]): Promise<void> {
    const log = this.options.logger;
    const good: { file: string; bundled: BundledFile; structures: DagStructure[] }[] = [];
    for (const { file, bundled, result } of imported) {
      if ("error" in result) await this.recordImportProblem(file, result.error).catch((err) => log.error({ err, file }, "processing a DAG file failed"));
      else good.push({ file, bundled, structures: result.structures });
    }
    if (!good.length) return;
    const bundleVersion = gitCommit(this.options.dagsFolder);
    let synced;
    try {
      synced = await withDbRetry(() => syncDagFiles(this.store.db, good.map((g) => this.syncInput(g.file, g.bundled, g.structures, bundleVersion))), {
        retryable: (err) => (err as { code?: string }).code === "23505",
      });
    } catch (err) {
      log.warn({ err }, "recording a batch of DAG files failed; recording them one by one");
      for (const g of good) await this.recordVersions(g.file, g.bundled, g.structures).catch((e) => log.error({ err: e, file: g.file }, "processing a DAG file failed"));
      return;
    }
    good.forEach((g, i) => {
      this.lastHash.set(g.file, g.bundled.codeHash);
      if (synced.changed[i]!.length) log.info({ file: path.relative(this.options.dagsFolder, g.file), dags: synced.changed[i] }, "DAG versions recorded");
      this.options.onChange?.(g.structures.map((s) => s.dagId));
    });
  }

  private syncInput(file: string, bundled: BundledFile, structures: DagStructure[], bundleVersion: string | null): SyncInput {
    return {
      fileloc: file,
      relativeFileloc: path.relative(this.options.dagsFolder, file),
      source: bundled.source,
      bundle: bundled.bundle,
      codeHash: bundled.codeHash,
      structures,
      bundleVersion,
    };
  }

  private async recordBundleError(file: string, err: Error): Promise<void> {
    await recordImportError(this.store.db, file, err.message, err instanceof BundleError ? err.line : null);
    this.lastHash.delete(file);
    this.options.logger.warn({ file: path.relative(this.options.dagsFolder, file) }, `import error: ${err.message}`);
  }

  private async recordImportProblem(file: string, error: ImportProblem): Promise<void> {
    await recordImportError(this.store.db, file, error.stack || error.message, error.line);
    this.lastHash.delete(file);
    this.options.logger.warn({ file: path.relative(this.options.dagsFolder, file), line: error.line }, `import error: ${error.message}`);
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
    if (!fs.existsSync(file) || !isDagFile(file)) {
      this.dependencies.delete(file);
      this.lastHash.delete(file);
      await forgetDagFile(this.store.db, file);
      return;
    }
    let bundled;
    try {
      bundled = await bundleDagFile(file, { maxFileBytes: this.options.maxFileBytes });
    } catch (err) {
      await this.recordBundleError(file, err as Error);
      return;
    }
    this.dependencies.set(file, bundled.inputs);
    if (this.lastHash.get(file) === bundled.codeHash) return;
    const bundleFile = ensureBundleFile(this.options.cacheDir, bundled.codeHash, bundled.bundle);
    const result = await this.importer.import(bundleFile, file);
    if ("error" in result) {
      await this.recordImportProblem(file, result.error);
      return;
    }
    await this.recordVersions(file, bundled, result.structures);
  }

  /** One file's versions (the live path: an edited file). */
  private async recordVersions(file: string, bundled: BundledFile, structures: DagStructure[]): Promise<void> {
    // Two schedulers recording the same new version at once: the loser's insert hits the unique
    // index (23505); running it again finds the winner's row.
    const synced = await withDbRetry(() => syncDagFile(this.store.db, this.syncInput(file, bundled, structures, gitCommit(this.options.dagsFolder))), {
      retryable: (err) => (err as { code?: string }).code === "23505",
    });
    this.lastHash.set(file, bundled.codeHash);
    for (const s of structures) await refreshNextRun(this.store.db, s.dagId);
    if (synced.changed.length) this.options.logger.info({ file: path.relative(this.options.dagsFolder, file), dags: synced.changed }, "DAG versions recorded");
    this.options.onChange?.(structures.map((s) => s.dagId));
  }

  async close(): Promise<void> {
    if (this.flushTimer) clearTimeout(this.flushTimer);
    await this.watcher?.close();
    await this.processing.catch(() => {});
    this.importer.close();
  }
}
