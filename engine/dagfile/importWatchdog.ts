// Where a DAG file's import was spinning when its time limit hit. The importer child's main thread
// is the one stuck in the loop, so it cannot answer anything itself: a worker thread holds an
// inspector session on the main thread, and at the time limit asks V8 to pause it (V8 serves that
// request at the loop's next interrupt check), reads the top call frames, maps them through the
// bundle's inline source map to the DAG file's own lines, and writes the answer to a pipe of its own
// (the importer's fd 4: IPC is the blocked main thread's). The parent's kill stays the backstop —
// a thread blocked in native code (a synchronous read, Atomics.wait) never reaches a pause.
import fs from "node:fs";
import { Session } from "node:inspector";
import { SourceMap } from "node:module";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { isMainThread, parentPort, Worker, workerData } from "node:worker_threads";

/** The importer child's stdio slot for the watchdog's reports (0–2 stdio, 3 IPC). */
export const WATCHDOG_FD = 4;
/** How long the watchdog waits for the main thread to pause before reporting that it could not. */
const PAUSE_WAIT_MS = 1_000;
const ROLE = "updraft-import-watchdog";

/** One import, as the watchdog is told of it before it starts. */
export interface WatchedImport {
  id: number;
  index: number;
  bundleFile: string;
  fileloc: string;
  timeoutMs: number;
}

/** What the watchdog reports on WATCHDOG_FD, one JSON object per line. */
export interface WatchdogReport {
  id: number;
  index: number;
  /** `file:line` of the innermost frame in the bundle's own sources, or null when the thread never paused. */
  where: string | null;
  /** The innermost line in the DAG file itself (where it called into a helper, if the loop is in one). */
  line: number | null;
}

export interface ImportWatchdog {
  arm(item: WatchedImport): void;
  disarm(): void;
}

/**
 * Starts the watchdog thread in the importer child, or returns null when there is no report pipe
 * (the importer run some other way): timeouts then carry no line, as before.
 */
export function startImportWatchdog(): ImportWatchdog | null {
  try {
    // Node's "pipe" stdio is a socket pair.
    const stat = fs.fstatSync(WATCHDOG_FD);
    if (!stat.isSocket() && !stat.isFIFO()) return null;
  } catch {
    return null;
  }
  // This module's own file: the importer child's bundle, or this .ts file when the child runs
  // through tsx — whose hooks a worker does not inherit, so it registers them first. Either way,
  // loaded in a worker it runs runWatchdog() below.
  const self = new URL(import.meta.url);
  const workerData = { role: ROLE };
  let worker: Worker;
  if (self.pathname.endsWith(".ts")) {
    const tsx = import.meta.resolve("tsx/esm/api");
    worker = new Worker(`import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(self.href)}); })`, { eval: true, workerData });
  } else {
    worker = new Worker(self, { workerData });
  }
  worker.unref();
  worker.on("error", () => {}); // without the watchdog, imports still run; only the line is lost
  return {
    arm: (item) => worker.postMessage({ arm: item }),
    disarm: () => worker.postMessage({ disarm: true }),
  };
}

interface Frame {
  scriptId: string;
  lineNumber: number;
  columnNumber: number;
}

function runWatchdog(): void {
  const session = new Session();
  session.connectToMainThread();
  const post = (method: string) => new Promise<void>((resolve, reject) => session.post(method, (err) => (err ? reject(err) : resolve())));
  const urls = new Map<string, string>();
  session.on("Debugger.scriptParsed", (m: { params: { scriptId: string; url: string } }) => urls.set(m.params.scriptId, m.params.url));
  let timer: NodeJS.Timeout | null = null;
  // The session does not keep this thread's event loop alive; the port does, while armed.
  parentPort!.on("message", (msg: { arm?: WatchedImport; disarm?: true }) => {
    if (timer) clearTimeout(timer);
    timer = msg.arm ? setTimeout((item: WatchedImport) => void fire(item), msg.arm.timeoutMs, msg.arm) : null;
  });

  const fire = async (item: WatchedImport) => {
    const paused = new Promise<Frame[]>((resolve) => session.once("Debugger.paused", (m: { params: { callFrames: { location: Frame }[] } }) => resolve(m.params.callFrames.map((f) => f.location))));
    let frames: Frame[] | null = null;
    try {
      await post("Debugger.enable");
      await post("Debugger.pause");
      frames = await Promise.race([paused, new Promise<null>((r) => setTimeout(r, PAUSE_WAIT_MS, null))]);
    } catch {
      frames = null;
    }
    const report: WatchdogReport = { id: item.id, index: item.index, where: null, line: null };
    if (frames) Object.assign(report, locate(frames, urls, item));
    // Let the main thread go on (and drop a pause it never reached): the file may have finished
    // just as the limit hit, and the parent, which ignores a report for a file already answered,
    // then needs the child to keep working. A genuine hang is killed on this report anyway.
    await post("Debugger.resume").catch(() => {});
    await post("Debugger.disable").catch(() => {});
    fs.writeSync(WATCHDOG_FD, `${JSON.stringify(report)}\n`);
  };
}

/** Maps the paused frames that run the bundle's code to places in its sources. */
export function locate(frames: Frame[], urls: Map<string, string>, item: Pick<WatchedImport, "bundleFile" | "fileloc">): Pick<WatchdogReport, "where" | "line"> {
  const bundleUrl = pathToFileURL(item.bundleFile).href;
  let map: SourceMap | null | undefined;
  let where: string | null = null;
  for (const f of frames) {
    const url = urls.get(f.scriptId);
    if (!url || url.split("?")[0] !== bundleUrl) continue;
    map ??= readInlineSourceMap(item.bundleFile);
    if (!map) return { where: null, line: null };
    const entry = map.findEntry(f.lineNumber, f.columnNumber) as { originalSource?: string; originalLine?: number };
    if (!entry.originalSource || entry.originalLine === undefined) continue;
    // esbuild writes sources relative to the bundling process's working directory, which the
    // importer child inherits.
    const source = path.resolve(entry.originalSource.startsWith("file:") ? fileURLToPath(entry.originalSource) : entry.originalSource);
    const line = entry.originalLine + 1;
    where ??= `${source}:${line}`;
    if (source === path.resolve(item.fileloc)) return { where, line };
  }
  return { where, line: null };
}

function readInlineSourceMap(bundleFile: string): SourceMap | null {
  try {
    const text = fs.readFileSync(bundleFile, "utf8");
    const m = /\/\/# sourceMappingURL=data:application\/json;(?:charset=utf-8;)?base64,([A-Za-z0-9+/=]+)\s*$/.exec(text);
    return m ? new SourceMap(JSON.parse(Buffer.from(m[1]!, "base64").toString("utf8")) as ConstructorParameters<typeof SourceMap>[0]) : null;
  } catch {
    return null;
  }
}

if (!isMainThread && (workerData as { role?: string } | null)?.role === ROLE) runWatchdog();
