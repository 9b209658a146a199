// Child processes run TypeScript entries through tsx's loader, with source maps on so that a
// task's stack trace points at the line of its DAG file.
import { fork, type ChildProcess, type StdioOptions } from "node:child_process";
import { createRequire } from "node:module";
import { pathToFileURL } from "node:url";

const require = createRequire(import.meta.url);
const TSX_LOADER = pathToFileURL(require.resolve("tsx")).href;

export function forkTs(
  entry: string,
  options: { env?: NodeJS.ProcessEnv; cwd?: string; detached?: boolean; stdio?: StdioOptions; serialization?: "json" | "advanced" } = {},
): ChildProcess {
  return fork(entry, [], {
    execArgv: ["--import", TSX_LOADER, "--enable-source-maps", "--no-warnings=ExperimentalWarning"],
    env: options.env ?? process.env,
    cwd: options.cwd,
    stdio: options.stdio ?? ["ignore", "pipe", "pipe", "ipc"],
    serialization: options.serialization ?? "advanced",
  });
}
