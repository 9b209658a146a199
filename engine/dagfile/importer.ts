// Parent side of the importer child: files are sent in batches and imported one after another,
// each under its own time limit. On a timeout or crash the child is killed and replaced; the file
// being imported becomes an import error and the rest of its batch goes to the new child. At a
// file's time limit the child's watchdog thread reports where the import is spinning (fd 4,
// importWatchdog.ts); the parent kills the child on that report, or a little later without one.
import { fork, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { forkTs } from "../process/spawnTs.js";
import type { DagStructure } from "../model/structure.js";
import type { ImportProblem } from "./extractDags.js";
import { WATCHDOG_FD, type WatchdogReport } from "./importWatchdog.js";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "importerChild.ts");
/** Every import keeps its module in the child's memory: start afresh after this many. */
const RECYCLE_AFTER_IMPORTS = 500;
/**
 * After a file's time limit, how long the parent waits for the watchdog's report before killing
 * the child anyway. The report comes within milliseconds of a busy loop's limit, or within the
 * watchdog's own 1 s wait when the thread is blocked outside JavaScript.
 */
const WATCHDOG_GRACE_MS = 2_000;
/** The child's stdio: the watchdog's report pipe is fd 4 (WATCHDOG_FD). */
const STDIO = ["ignore", "pipe", "pipe", "ipc", "pipe"] as const;

let builtChild: string | null = null;

/**
 * The child, bundled once into plain JavaScript and run without tsx: tsx's module hooks would
 * otherwise sit on every DAG bundle's import (about 1 ms each, a second per thousand files). The
 * bundle is named by its hash, so it is written once per version of the code. Should bundling fail,
 * the child runs through tsx as other children do.
 */
function forkChild(): ChildProcess {
  try {
    if (!builtChild || !fs.existsSync(builtChild)) {
      const result = esbuild.buildSync({
        entryPoints: [CHILD],
        bundle: true,
        write: false,
        format: "esm",
        platform: "node",
        target: "node20",
        logLevel: "silent",
        banner: { js: "import { createRequire as __updraftRequire } from 'node:module'; const require = __updraftRequire(import.meta.url);" },
      });
      const text = result.outputFiles[0]!.text;
      const file = path.join(os.tmpdir(), `updraft-importer-${createHash("sha256").update(text).digest("hex").slice(0, 16)}.mjs`);
      if (!fs.existsSync(file)) {
        const tmp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(tmp, text);
        fs.renameSync(tmp, file);
      }
      builtChild = file;
    }
    return fork(builtChild, [], { execArgv: ["--enable-source-maps"], stdio: [...STDIO], serialization: "advanced" });
  } catch {
    return forkTs(CHILD, { stdio: [...STDIO] });
  }
}

/** The import error of a file that ran past its time limit, naming where it was when the watchdog looked. */
function timeoutProblem(timeoutMs: number, report: WatchdogReport | null): ImportProblem {
  const base = `importing the DAG file took longer than ${timeoutMs} ms (UPDRAFT_DAG_IMPORT_TIMEOUT_MS)`;
  if (!report?.where) return { message: base, line: null, stack: "" };
  const message = `${base}: still running at ${report.where}`;
  return { message, line: report.line, stack: message };
}

export type ImportResult = { structures: DagStructure[] } | { error: ImportProblem };
export interface ImportItem {
  bundleFile: string;
  fileloc: string;
}

export class DagImporter {
  private child: ChildProcess | null = null;
  private imports = 0;
  private nextId = 1;
  private chain: Promise<unknown> = Promise.resolve();
  /** The running round's handler of the watchdog's reports. */
  private onWatchdog: ((report: WatchdogReport) => void) | null = null;

  constructor(private readonly timeoutMs: number) {}

  async import(bundleFile: string, fileloc: string): Promise<ImportResult> {
    return (await this.importMany([{ bundleFile, fileloc }]))[0]!;
  }

  /** Imports several bundles with one message; results in the same order. */
  importMany(items: ImportItem[]): Promise<ImportResult[]> {
    const run = this.chain.then(() => this.importNow(items));
    this.chain = run.catch(() => {});
    return run;
  }

  /** Starts the child ahead of the first import: its start (about a second under load) then overlaps the first bundling. */
  warm(): void {
    if (!this.child) this.spawn();
  }

  private spawn(): ChildProcess {
    if (!this.child || this.imports >= RECYCLE_AFTER_IMPORTS) {
      this.kill();
      this.child = forkChild();
      this.child.stdout?.resume();
      this.child.stderr?.resume();
      this.readWatchdog(this.child);
      this.imports = 0;
    }
    return this.child;
  }

  private async importNow(items: ImportItem[]): Promise<ImportResult[]> {
    const results: ImportResult[] = [];
    // Each round sends what is left; it ends early only when a file hangs or kills the child.
    while (results.length < items.length) results.push(...(await this.round(items.slice(results.length))));
    return results;
  }

  /** Results for a prefix of `items`: all of them, or up to and including the file that failed the child. */
  private round(items: ImportItem[]): Promise<ImportResult[]> {
    const child = this.spawn();
    this.imports += items.length;
    const id = this.nextId++;
    const results: ImportResult[] = [];
    return new Promise<ImportResult[]>((resolve) => {
      let timer: NodeJS.Timeout;
      // The backstop: no report from the watchdog (blocked in native code, or the watchdog broken).
      const arm = () => {
        clearTimeout(timer);
        timer = setTimeout(() => fail({ error: timeoutProblem(this.timeoutMs, null) }), this.timeoutMs + WATCHDOG_GRACE_MS);
      };
      const finish = () => {
        clearTimeout(timer);
        this.onWatchdog = null;
        child.off("message", onMessage);
        child.off("exit", onExit);
        resolve(results);
      };
      const fail = (result: ImportResult) => {
        results.push(result);
        finish();
        this.kill();
      };
      const onMessage = (msg: { id: number; index: number; result: ImportResult }) => {
        if (msg.id !== id || msg.index !== results.length) return;
        results.push(msg.result);
        if (results.length === items.length) finish();
        else arm();
      };
      const onExit = (code: number | null, signal: string | null) =>
        fail({ error: { message: `the DAG file's import ended the importer process (${signal ?? `exit code ${code}`})`, line: null, stack: "" } });
      arm();
      this.onWatchdog = (report) => {
        if (report.id === id && report.index === results.length) fail({ error: timeoutProblem(this.timeoutMs, report) });
      };
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send({ id, items, timeoutMs: this.timeoutMs });
    });
  }

  /** Reports are JSON lines on the child's fd 4. */
  private readWatchdog(child: ChildProcess): void {
    const pipe = child.stdio[WATCHDOG_FD] as NodeJS.ReadableStream | null | undefined;
    if (!pipe) return;
    let buffered = "";
    pipe.setEncoding("utf8");
    pipe.on("data", (chunk: string) => {
      buffered += chunk;
      for (let nl = buffered.indexOf("\n"); nl >= 0; nl = buffered.indexOf("\n")) {
        const line = buffered.slice(0, nl);
        buffered = buffered.slice(nl + 1);
        let report: WatchdogReport;
        try {
          report = JSON.parse(line) as WatchdogReport;
        } catch {
          continue;
        }
        if (this.child === child) this.onWatchdog?.(report);
      }
    });
    pipe.on("error", () => {});
  }

  private kill(): void {
    if (this.child) {
      this.child.removeAllListeners();
      this.child.kill("SIGKILL");
      this.child = null;
    }
  }

  close(): void {
    this.kill();
  }
}
