// Parent side of the importer child: one file at a time, each under a time limit. On a timeout
// or crash the child is killed and replaced; the file becomes an import error.
import type { ChildProcess } from "node:child_process";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { forkTs } from "../process/spawnTs.js";
import type { DagStructure } from "../model/structure.js";
import type { ImportProblem } from "./extractDags.js";

const CHILD = path.join(path.dirname(fileURLToPath(import.meta.url)), "importerChild.ts");
/** Every import keeps its module in the child's memory: start afresh after this many. */
const RECYCLE_AFTER_IMPORTS = 500;

export type ImportResult = { structures: DagStructure[] } | { error: ImportProblem };

export class DagImporter {
  private child: ChildProcess | null = null;
  private imports = 0;
  private nextId = 1;
  private chain: Promise<unknown> = Promise.resolve();

  constructor(private readonly timeoutMs: number) {}

  import(bundleFile: string, fileloc: string): Promise<ImportResult> {
    const run = this.chain.then(() => this.importNow(bundleFile, fileloc));
    this.chain = run.catch(() => {});
    return run;
  }

  private spawn(): ChildProcess {
    if (!this.child || this.imports >= RECYCLE_AFTER_IMPORTS) {
      this.kill();
      this.child = forkTs(CHILD);
      this.child.stdout?.resume();
      this.child.stderr?.resume();
      this.imports = 0;
    }
    return this.child;
  }

  private importNow(bundleFile: string, fileloc: string): Promise<ImportResult> {
    const child = this.spawn();
    this.imports++;
    const id = this.nextId++;
    return new Promise<ImportResult>((resolve) => {
      const done = (result: ImportResult, kill: boolean) => {
        clearTimeout(timer);
        child.off("message", onMessage);
        child.off("exit", onExit);
        if (kill) this.kill();
        resolve(result);
      };
      const onMessage = (msg: { id: number; result: ImportResult }) => {
        if (msg.id === id) done(msg.result, false);
      };
      const onExit = (code: number | null, signal: string | null) =>
        done({ error: { message: `the DAG file's import ended the importer process (${signal ?? `exit code ${code}`})`, line: null, stack: "" } }, true);
      const timer = setTimeout(
        () => done({ error: { message: `importing the DAG file took longer than ${this.timeoutMs} ms (UPDRAFT_DAG_IMPORT_TIMEOUT_MS)`, line: null, stack: "" } }, true),
        this.timeoutMs,
      );
      child.on("message", onMessage);
      child.once("exit", onExit);
      child.send({ id, bundleFile, fileloc });
    });
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
