// The processes a benchmark starts (`updraft worker`, graphile-worker, `updraft start`) must not
// outlive it. An operator's `updraft worker` rightly keeps running when whatever started it goes
// away, so the bench stops them itself: every child it tracks here is SIGKILLed when the bench
// process exits — after an error, on Ctrl-C (SIGINT) or on SIGTERM (a `timeout`, CI cancelling).
// Only a SIGKILL of the bench itself escapes this; graphile-worker's children also exit when their
// IPC channel closes (graphileWorkerChild.ts), and task runners when their worker's does.
import type { ChildProcess } from "node:child_process";

const live = new Set<ChildProcess>();
let installed = false;

function killAll(): void {
  for (const c of live) if (c.exitCode === null && c.signalCode === null) c.kill("SIGKILL");
  live.clear();
}

function install(): void {
  if (installed) return;
  installed = true;
  process.once("exit", killAll);
  for (const [signal, code] of [["SIGINT", 130], ["SIGTERM", 143]] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(code);
    });
  }
}

/** Kills `child` with the bench if it is still running then; returns it. */
export function tieToBench<T extends ChildProcess>(child: T): T {
  install();
  live.add(child);
  child.once("exit", () => live.delete(child));
  return child;
}
