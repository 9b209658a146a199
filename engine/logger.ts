// Updraft's own logs: structured JSON (pino), one line per event — or, with UPDRAFT_LOG_FORMAT=pretty,
// one readable line per event for a person at a terminal (time, level, component, message, fields).
import { Writable } from "node:stream";
import pino, { type Logger } from "pino";

export type LogFormat = "json" | "pretty";

const LEVELS: Record<number, string> = { 10: "TRACE", 20: "DEBUG", 30: "INFO", 40: "WARN", 50: "ERROR", 60: "FATAL" };

/** pino writes JSON lines; this turns each into `12:00:01.234 INFO  updraft: message {fields}`. */
export function prettyStream(out: NodeJS.WritableStream = process.stdout): Writable {
  return new Writable({
    write(chunk: Buffer, _encoding, done) {
      for (const line of chunk.toString("utf8").split("\n")) {
        if (!line) continue;
        let entry: Record<string, unknown>;
        try {
          entry = JSON.parse(line) as Record<string, unknown>;
        } catch {
          out.write(`${line}\n`);
          continue;
        }
        const { time, level, name, msg, pid: _pid, hostname: _host, err, ...fields } = entry;
        const when = new Date(Number(time)).toISOString().slice(11, 23);
        const rest = Object.keys(fields).length ? ` ${JSON.stringify(fields)}` : "";
        const stack = err && typeof err === "object" && "stack" in err ? `\n    ${String((err as { stack: unknown }).stack).replace(/\n/g, "\n    ")}` : "";
        out.write(`${when} ${(LEVELS[Number(level)] ?? String(level)).padEnd(5)} ${String(name)}: ${String(msg ?? "")}${rest}${stack}\n`);
      }
      done();
    },
  });
}

export function createLogger(level: string = "info", name = "updraft", format: LogFormat = "json"): Logger {
  const options = { name, level, base: { pid: process.pid } };
  return format === "pretty" ? pino(options, prettyStream()) : pino(options);
}

export type { Logger };
