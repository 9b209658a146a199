// UPDRAFT_LOG_FORMAT=pretty: each pino JSON line becomes one readable line, fields and stacks kept.
import { PassThrough } from "node:stream";
import pino from "pino";
import { describe, expect, it } from "vitest";
import { prettyStream } from "../../engine/logger.js";

describe("pretty logs", () => {
  it("prints time, level, component, message and the other fields", async () => {
    const out = new PassThrough();
    let text = "";
    out.on("data", (c: Buffer) => (text += c.toString()));
    const logger = pino({ name: "updraft-web", base: { pid: 1 } }, prettyStream(out));
    logger.warn({ dagId: "etl", n: 2 }, "run slow");
    logger.error({ err: new Error("boom") }, "failed");
    await new Promise((r) => setImmediate(r));
    const lines = text.split("\n");
    expect(lines[0]).toMatch(/^\d{2}:\d{2}:\d{2}\.\d{3} WARN  updraft-web: run slow \{"dagId":"etl","n":2\}$/);
    expect(lines[1]).toMatch(/ERROR updraft-web: failed$/);
    expect(lines[2]).toMatch(/^ {4}Error: boom$/);
  });
});
