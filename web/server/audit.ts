// The audit middleware: every state-changing API call that succeeded (non-GET, status < 400) and
// every successful login is recorded — who, what, when — before its response goes out, so a client
// that got its answer can read its own audit row. Refused and invalid calls changed nothing and are
// not recorded (they would let anyone fill the table). Airflow's batch reads (POST …/list), dry runs
// and predictions are reads. A failing audit write is logged and does not fail the call it describes.
import type { Request, RequestHandler, Response } from "express";
import type { Logger } from "pino";
import type { Store } from "../../engine/store/db.js";
import { recordAuditEvent } from "../../engine/store/audit/recordAuditEvent.js";
import type { AuthUser } from "./auth.js";
import { OPERATIONS } from "./openapi/operations.js";

/** POSTs that only read: batch lists, dry runs, model predictions. */
const READS = [/\/list$/, /\/dry_run$/, /\/predict$/];

/** Event names are Airflow's operation ids (trigger_dag_run, patch_dag, …), found by path. */
const EVENTS = OPERATIONS.filter((op) => op.method !== "get" || op.path === "/auth/token").map((op) => ({
  method: op.method.toUpperCase(),
  pattern: new RegExp(`^${op.path.replace(/\{\w+\}/g, "[^/]+")}$`),
  event: op.operationId,
}));

function eventName(method: string, path: string): string {
  return EVENTS.find((e) => e.method === method && e.pattern.test(path))?.event ?? `${method.toLowerCase()} ${path}`;
}

const str = (v: unknown, max = 250) => (typeof v === "string" && v.length > 0 ? v.slice(0, max) : null);
const int = (v: unknown) => {
  const n = typeof v === "number" ? v : typeof v === "string" && /^-?\d{1,9}$/.test(v) ? Number(v) : NaN;
  return Number.isInteger(n) ? n : null;
};

function describe(req: Request, res: Response) {
  const params = (req.params ?? {}) as Record<string, unknown>;
  const body = (req.body && typeof req.body === "object" ? req.body : {}) as Record<string, unknown>;
  const user = res.locals.user as AuthUser | undefined;
  const path = req.originalUrl.split("?")[0] ?? req.originalUrl;
  const login = path === "/auth/token";
  return {
    username: user?.username ?? (login ? str(body.username) : null),
    role: user?.role ?? null,
    event: eventName(req.method, path),
    method: req.method,
    path: path.slice(0, 2000),
    status: res.statusCode,
    dagId: str(params.dag_id) ?? str(body.dag_id),
    runId: str(params.dag_run_id) ?? str(body.dag_run_id),
    taskId: str(params.task_id),
    mapIndex: int(params.map_index) ?? int(req.query?.map_index),
    tryNumber: int(params.try_number),
    clientAddress: req.ip ?? null,
    extra: { query: req.query && Object.keys(req.query).length ? req.query : undefined, user_agent: str(req.get("user-agent"), 500) ?? undefined },
  };
}

export function auditLog(store: Store, logger: Logger): RequestHandler {
  return (req, res, next) => {
    const path = req.path;
    if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS" || READS.some((re) => re.test(path))) return next();
    const end = res.end.bind(res) as (...args: unknown[]) => Response;
    let recorded = false;
    res.end = ((...args: unknown[]) => {
      if (recorded || res.statusCode >= 400) return end(...args);
      recorded = true;
      // A dry run (clear, the default) changes nothing either.
      if ((req.body as { dry_run?: unknown } | undefined)?.dry_run !== false && /\/clear(TaskInstances)?$/.test(path)) return end(...args);
      recordAuditEvent(store.db, describe(req, res))
        .catch((err: unknown) => logger.error({ err, method: req.method, url: req.originalUrl }, "audit log write failed"))
        .finally(() => end(...args));
      return res;
    }) as typeof res.end;
    next();
  };
}
