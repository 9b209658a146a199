// OpenTelemetry traces, with OTEL_EXPORTER_OTLP_ENDPOINT pointing at a tiny local collector: a run
// of a three-task chain exports one span per task try and one for the run, all in the run's trace,
// each try a child of the run's span. Without the variable nothing is exported (tracing.ts).
import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { flushTracing, runTraceIds, shutdownTracing } from "../../engine/observability/tracing.js";
import { createRun } from "../../engine/store/runs/createRun.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, waitForRunEnd, type TestEngine } from "../helpers/engine.js";

interface OtlpSpan {
  traceId: string;
  spanId: string;
  parentSpanId?: string;
  name: string;
  attributes: { key: string; value: Record<string, unknown> }[];
}

const DAGS = {
  "traced.ts": `import { dag } from "updraft";
export default dag({ id: "traced" }, (d) => { d.chain(d.task("a", () => 1), d.task("b", () => 2), d.task("c", () => { throw new Error("c fails"); })); });`,
};

describe("OpenTelemetry export", () => {
  const spans: OtlpSpan[] = [];
  const contentTypes = new Set<string>();
  let collector: http.Server;

  beforeAll(async () => {
    collector = http.createServer((req, res) => {
      let body = "";
      req.on("data", (c: Buffer) => (body += c.toString()));
      req.on("end", () => {
        contentTypes.add(`${req.method} ${req.url} ${req.headers["content-type"]}`);
        const payload = JSON.parse(body) as { resourceSpans: { scopeSpans: { spans: OtlpSpan[] }[] }[] };
        for (const rs of payload.resourceSpans) for (const ss of rs.scopeSpans) spans.push(...ss.spans);
        res.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    process.env.OTEL_EXPORTER_OTLP_ENDPOINT = `http://127.0.0.1:${(collector.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    await shutdownTracing();
    delete process.env.OTEL_EXPORTER_OTLP_ENDPOINT;
    await new Promise<void>((resolve) => collector.close(() => resolve()));
  });

  describe.each(backends())("on %s", (backend) => {
    let db: TestDatabase;
    let engine: TestEngine;

    beforeAll(async () => {
      db = await createTestDatabase(backend);
      engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS) });
    });
    afterAll(async () => {
      await engine?.stop();
      await db?.drop();
    });

    it("exports a span per try and one per run, in the run's trace", async () => {
      const runId = `traced_${backend}`;
      const run = await createRun(db.store.db, { dagId: "traced", runId, runType: "manual", logicalDate: null, dataIntervalStart: null, dataIntervalEnd: null, runAfter: new Date(), conf: {} });
      expect(await waitForRunEnd(db.store, run.id)).toBe("failed");
      await flushTracing();
      const { traceId, spanId } = runTraceIds("traced", runId);
      const mine = await waitFor("4 spans", async () => {
        const found = spans.filter((s) => s.traceId === traceId);
        return found.length >= 4 ? found : null;
      });
      expect(mine.map((s) => s.name).sort()).toEqual(["run traced", "task traced.a", "task traced.b", "task traced.c"]);
      const runSpan = mine.find((s) => s.name === "run traced")!;
      expect(runSpan.spanId).toBe(spanId);
      expect(runSpan.parentSpanId ?? "").toBe("");
      for (const s of mine.filter((x) => x.name.startsWith("task "))) expect(s.parentSpanId).toBe(spanId);
      const attr = (s: OtlpSpan, key: string) => Object.values(s.attributes.find((a) => a.key === key)?.value ?? {})[0];
      const c = mine.find((s) => s.name === "task traced.c")!;
      expect(attr(c, "updraft.outcome")).toMatch(/^failed/);
      expect(attr(c, "updraft.try_number")).toBe(1);
      expect(attr(runSpan, "updraft.state")).toBe("failed");
      expect([...contentTypes].some((t) => t.startsWith("POST /v1/traces"))).toBe(true);
    });
  });
});
