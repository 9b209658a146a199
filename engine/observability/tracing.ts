// OpenTelemetry traces: one span per task try and one per DAG run, exported over OTLP/HTTP only
// when OTEL_EXPORTER_OTLP_ENDPOINT is set (the exporter reads the standard OTEL_* variables, and
// posts to `$OTEL_EXPORTER_OTLP_ENDPOINT/v1/traces`). Spans are recorded by the worker that
// finished the try, after the fact, with the database-recorded start and end.
//
// A run's tries are finished by any number of workers, in any process: they find their common
// trace from the run alone — trace id and run span id are hashes of (dag_id, run_id) — so every try
// is a child of its run's span, and the run's span (recorded by whichever worker ended the run) gets
// exactly that span id.
import { createHash } from "node:crypto";
import { createRequire } from "node:module";
import type { Tracer } from "@opentelemetry/api";
import type { IdGenerator } from "@opentelemetry/sdk-trace-base";
import type { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

const require = createRequire(import.meta.url);

/**
 * OpenTelemetry — its API, SDK and exporter — loaded on the first span of a process that exports
 * traces: a process without OTEL_EXPORTER_OTLP_ENDPOINT (the default) never uses them, and they are
 * some of the larger modules `updraft start` loaded (issue 9; the API alone is 88 ES modules).
 * Loaded with require(), synchronous as recordTaskTry is, so the API and the SDK are the same
 * CommonJS builds and share one registry.
 */
function sdk() {
  return {
    api: require("@opentelemetry/api") as typeof import("@opentelemetry/api"),
    ...(require("@opentelemetry/exporter-trace-otlp-http") as typeof import("@opentelemetry/exporter-trace-otlp-http")),
    ...(require("@opentelemetry/resources") as typeof import("@opentelemetry/resources")),
    ...(require("@opentelemetry/sdk-trace-base") as typeof import("@opentelemetry/sdk-trace-base")),
    ...(require("@opentelemetry/sdk-trace-node") as typeof import("@opentelemetry/sdk-trace-node")),
  };
}

/** The next trace and span ids to hand out, when the caller needs chosen ones (the run's span); else random. */
class ChosenIdGenerator implements IdGenerator {
  next: string | null = null;
  nextTrace: string | null = null;
  constructor(private readonly random: IdGenerator) {}
  generateTraceId(): string {
    const id = this.nextTrace ?? this.random.generateTraceId();
    this.nextTrace = null;
    return id;
  }
  generateSpanId(): string {
    const id = this.next ?? this.random.generateSpanId();
    this.next = null;
    return id;
  }
}

interface Tracing {
  api: typeof import("@opentelemetry/api");
  provider: NodeTracerProvider;
  tracer: Tracer;
  ids: ChosenIdGenerator;
}

let tracing: Tracing | null | undefined;

function get(): Tracing | null {
  if (tracing !== undefined) return tracing;
  if (!process.env.OTEL_EXPORTER_OTLP_ENDPOINT) return (tracing = null);
  const { api, BatchSpanProcessor, NodeTracerProvider, OTLPTraceExporter, RandomIdGenerator, resourceFromAttributes } = sdk();
  const ids = new ChosenIdGenerator(new RandomIdGenerator());
  const provider = new NodeTracerProvider({
    resource: resourceFromAttributes({ "service.name": process.env.OTEL_SERVICE_NAME ?? "updraft" }),
    idGenerator: ids,
    spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter(), { scheduledDelayMillis: 1_000 })],
  });
  tracing = { api, provider, tracer: provider.getTracer("updraft"), ids };
  return tracing;
}

const hex = (text: string, chars: number) => createHash("sha256").update(text).digest("hex").slice(0, chars);

/** The run's trace: deterministic, so that every process agrees on it. */
export function runTraceIds(dagId: string, runId: string): { traceId: string; spanId: string } {
  return { traceId: hex(`updraft-run\0${dagId}\0${runId}`, 32), spanId: hex(`updraft-run-span\0${dagId}\0${runId}`, 16) };
}

export interface TaskTrySpan {
  dagId: string;
  runId: string;
  taskId: string;
  mapIndex: number;
  tryNumber: number;
  start: Date;
  end: Date;
  outcome: string;
  workerId: string;
  /** Set when this try ended the run: its span is recorded too. */
  run?: { state: "success" | "failed"; start: Date | null };
}

export function recordTaskTry(s: TaskTrySpan): void {
  const t = get();
  if (!t) return;
  const { context, SpanKind, SpanStatusCode, trace, TraceFlags } = t.api;
  const { traceId, spanId } = runTraceIds(s.dagId, s.runId);
  const parent = trace.setSpanContext(context.active(), { traceId, spanId, traceFlags: TraceFlags.SAMPLED, isRemote: true });
  const span = t.tracer.startSpan(
    `task ${s.dagId}.${s.taskId}`,
    {
      kind: SpanKind.INTERNAL,
      startTime: s.start,
      attributes: {
        "updraft.dag_id": s.dagId,
        "updraft.run_id": s.runId,
        "updraft.task_id": s.taskId,
        "updraft.map_index": s.mapIndex,
        "updraft.try_number": s.tryNumber,
        "updraft.outcome": s.outcome,
        "updraft.worker_id": s.workerId,
      },
    },
    parent,
  );
  if (s.outcome.startsWith("failed")) span.setStatus({ code: SpanStatusCode.ERROR, message: s.outcome });
  span.end(s.end);

  if (s.run) {
    // The run's span: a root whose trace and span ids are the run's own (startSpan is synchronous,
    // so no other span takes the chosen ids in between).
    t.ids.nextTrace = traceId;
    t.ids.next = spanId;
    const runSpan = t.tracer.startSpan(`run ${s.dagId}`, { root: true, kind: SpanKind.INTERNAL, startTime: s.run.start ?? s.start, attributes: { "updraft.dag_id": s.dagId, "updraft.run_id": s.runId, "updraft.state": s.run.state } });
    if (s.run.state === "failed") runSpan.setStatus({ code: SpanStatusCode.ERROR, message: "run failed" });
    runSpan.end(s.end);
  }
}

/** Sends what is buffered (a worker stopping, a test). */
export async function flushTracing(): Promise<void> {
  await tracing?.provider.forceFlush();
}

export async function shutdownTracing(): Promise<void> {
  const t = tracing;
  tracing = undefined;
  await t?.provider.shutdown();
}
