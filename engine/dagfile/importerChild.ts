// Child process: imports bundled DAG files on request and answers with their structures or an
// import problem. A file that hangs or crashes at import costs only this child (DESIGN §4).
// A request carries a batch of files (one message instead of one per file at a cold start); they
// are imported one after another and each answered as soon as it is done, so the parent can time
// each file on its own and, when one hangs, knows exactly which — and the watchdog thread
// (importWatchdog.ts) says where in it.
import { isMainThread } from "node:worker_threads";
import { extractDags } from "./extractDags.js";
import { startImportWatchdog } from "./importWatchdog.js";

export interface ImportRequest {
  id: number;
  items: { bundleFile: string; fileloc: string }[];
  /** Each file's time limit: the watchdog reports where a file still is when it passes. */
  timeoutMs: number;
}

// The watchdog thread loads this same module (bundled with it); only the main thread imports.
if (isMainThread) {
  const watchdog = startImportWatchdog();
  process.on("message", (msg: ImportRequest) => {
    void (async () => {
      for (let index = 0; index < msg.items.length; index++) {
        const { bundleFile, fileloc } = msg.items[index]!;
        watchdog?.arm({ id: msg.id, index, bundleFile, fileloc, timeoutMs: msg.timeoutMs });
        const result = await extractDags(bundleFile, fileloc).catch((err: Error) => ({ error: { message: err.message, line: null, stack: err.stack ?? err.message } }));
        watchdog?.disarm();
        process.send?.({ id: msg.id, index, result });
      }
    })();
  });
  // A stray rejection in a DAG file's top level must not take the importer down.
  process.on("unhandledRejection", () => {});
  process.on("disconnect", () => process.exit(0));
}
