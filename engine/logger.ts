// Updraft's own logs: structured JSON (pino), one line per event.
import pino, { type Logger } from "pino";

export function createLogger(level: string = "info", name = "updraft"): Logger {
  return pino({ name, level, base: { pid: process.pid } });
}

export type { Logger };
