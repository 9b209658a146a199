// Every operation the web server serves, for the OpenAPI document (document.ts): its path, the zod
// schemas the route validates its query and body with (the same objects, so the document cannot
// drift from the validation), and the Airflow response schema it answers with (airflowSchemas.json).
// An operation added to a router without an entry here is caught by test/web/openapi.test.ts.
import type { z } from "zod";
import { LoginBody } from "../auth.js";
import { RefreshQuery } from "../routes/authRefresh.js";
import { BackfillPostBody, ListQuery as BackfillListQuery } from "../routes/backfills.js";
import { DAGRunClearBody, DAGRunPatchBody, PatchQuery as RunPatchQuery, RunsQuery, TriggerDAGRunPostBody } from "../routes/dagRuns.js";
import { DAGRunsBatchBody } from "../routes/dagRunsBatch.js";
import { BulkPatchQuery, DAGPatchBody, DagsQuery, PatchQuery as DagPatchQuery } from "../routes/dags.js";
import { SourceQuery, VersionsQuery } from "../routes/dagVersions.js";
import { ImportErrorsQuery } from "../routes/importErrors.js";
import { ClearTaskInstancesBody, PatchQuery as TiPatchQuery, PatchTaskInstanceBody, TriesQuery } from "../routes/taskInstanceActions.js";
import { LogQuery, TaskInstancesQuery } from "../routes/taskInstances.js";
import { BulkBody as TiBulkBody, DeleteQuery as TiDeleteQuery, TaskInstancesBatchBody } from "../routes/taskInstancesBatch.js";
import { TasksQuery } from "../routes/tasks.js";
import { XComCreateBody, XComGetQuery, XComListQuery, XComUpdateBody } from "../routes/xcom.js";
import { EventLogCollectionResponse, EventLogResponse, EventLogsQuery } from "../routes/eventLogs.js";
import * as Models from "../routes/models.js";

/** Response schemas Updraft defines itself (zod), for resources outside Airflow's core contract. */
export const OWN_SCHEMAS: Record<string, z.ZodType> = {
  EventLogResponse,
  EventLogCollectionResponse,
  ModelCollectionResponse: Models.ModelCollectionResponse,
  ModelVersionResponse: Models.ModelVersionResponse,
  ModelVersionCollectionResponse: Models.ModelVersionCollectionResponse,
  PredictionResponse: Models.PredictionResponse,
  MetricCollectionResponse: Models.MetricCollectionResponse,
};

export type Method = "get" | "post" | "put" | "patch" | "delete";

export interface Operation {
  method: Method;
  /** OpenAPI path, `{name}` for path parameters. */
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  /** Where Updraft's behaviour differs from Airflow's, or has no such concept: said here. */
  description?: string;
  query?: z.ZodType;
  /** The zod schema of the body, or the name of an Airflow component for routes documented by reference. */
  body?: z.ZodType | string;
  /** Success status (default 200) and the Airflow schema of its body: a component name, a JSON Schema, or null for none. */
  status?: number;
  response: string | Record<string, unknown> | null;
  /** Path parameters that are integers (the rest are strings). */
  integerParams?: string[];
  /** No bearer token needed. */
  public?: boolean;
  /** The least role that may call it (default: viewer to read, operator to write). */
  role?: "viewer" | "operator" | "admin";
}

const TI = "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances";
const anyOf = (...names: string[]) => ({ anyOf: names.map((n) => ({ $ref: `#/components/schemas/${n}` })) });
const WILDCARD_NOTE = "`~` as a path parameter means every DAG / run / task.";

export const OPERATIONS: Operation[] = [
  // ---- auth ----
  { method: "post", path: "/auth/token", operationId: "create_token", tag: "Login", summary: "Create Token", body: LoginBody, status: 201, response: "LoginResponse", public: true, description: "JSON or form-encoded `{username, password}` → a signed JWT (HS256) with an expiry (UPDRAFT_TOKEN_TTL_MS). Rate-limited per client address (UPDRAFT_LOGIN_RATE_LIMIT)." },
  { method: "get", path: "/auth/token", operationId: "create_token_all_admins", tag: "Login", summary: "Create Token All Admins", status: 201, response: "LoginResponse", public: true, description: "Updraft has no all-admins mode: always 403, as Airflow answers with `simple_auth_manager_all_admins` off." },
  { method: "get", path: "/api/v2/auth/refresh", operationId: "refresh", tag: "Login", summary: "Refresh", query: RefreshQuery, response: "LoginResponse", public: true, description: "With a still-valid bearer token: a fresh token for the same user (200). Otherwise a 307 redirect to `next` (a local path only) or to the UI's login page." },
  // ---- monitor ----
  { method: "get", path: "/api/v2/monitor/health", operationId: "get_health", tag: "Monitor", summary: "Get Health", response: "HealthInfoResponse", public: true, description: "Updraft has no triggerer: its status is null. The DAG processor runs inside the scheduler and shares its heartbeat." },
  { method: "get", path: "/api/v2/version", operationId: "get_version", tag: "Version", summary: "Get Version", response: "VersionInfo", public: true },
  // ---- DAGs ----
  { method: "get", path: "/api/v2/dags", operationId: "get_dags", tag: "DAG", summary: "Get Dags", query: DagsQuery, response: "DAGCollectionResponse" },
  { method: "patch", path: "/api/v2/dags", operationId: "patch_dags", tag: "DAG", summary: "Patch Dags", query: BulkPatchQuery, body: DAGPatchBody, response: "DAGCollectionResponse", description: "Pauses or unpauses every DAG of the page the filters select." },
  { method: "get", path: "/api/v2/dags/{dag_id}", operationId: "get_dag", tag: "DAG", summary: "Get Dag", response: "DAGResponse" },
  { method: "patch", path: "/api/v2/dags/{dag_id}", operationId: "patch_dag", tag: "DAG", summary: "Patch Dag", query: DagPatchQuery, body: DAGPatchBody, response: "DAGResponse" },
  { method: "delete", path: "/api/v2/dags/{dag_id}", operationId: "delete_dag", tag: "DAG", summary: "Delete Dag", response: {}, description: "Deletes the DAG's runs, task instances, logs, XComs and versions (409 while task instances are queued or running). A DAG file still in the folder brings it back at its next parse. The body is `null`." },
  { method: "get", path: "/api/v2/dags/{dag_id}/details", operationId: "get_dag_details", tag: "DAG", summary: "Get Dag Details", response: "DAGDetailsResponse" },
  { method: "get", path: "/api/v2/dags/{dag_id}/tasks", operationId: "get_tasks", tag: "Task", summary: "Get Tasks", query: TasksQuery, response: "TaskCollectionResponse", description: "The tasks of the DAG's latest version. UI colours, template fields and extra links have no meaning in Updraft and carry Airflow's defaults." },
  { method: "get", path: "/api/v2/dags/{dag_id}/tasks/{task_id}", operationId: "get_task", tag: "Task", summary: "Get Task", response: "TaskResponse" },
  { method: "get", path: "/api/v2/dagSources/{dag_id}", operationId: "get_dag_source", tag: "DagSource", summary: "Get Dag Source", query: SourceQuery, response: "DAGSourceResponse", description: "`Accept: text/plain` answers the source as text." },
  { method: "get", path: "/api/v2/dags/{dag_id}/dagVersions", operationId: "get_dag_versions", tag: "DagVersion", summary: "Get Dag Versions", query: VersionsQuery, response: "DAGVersionCollectionResponse", description: WILDCARD_NOTE },
  { method: "get", path: "/api/v2/dags/{dag_id}/dagVersions/{version_number}", operationId: "get_dag_version", tag: "DagVersion", summary: "Get Dag Version", response: "DagVersionResponse", integerParams: ["version_number"] },
  // ---- DAG runs ----
  { method: "get", path: "/api/v2/dags/{dag_id}/dagRuns", operationId: "get_dag_runs", tag: "DagRun", summary: "Get Dag Runs", query: RunsQuery, response: "DAGRunCollectionResponse", description: WILDCARD_NOTE },
  { method: "post", path: "/api/v2/dags/{dag_id}/dagRuns", operationId: "trigger_dag_run", tag: "DagRun", summary: "Trigger Dag Run", body: TriggerDAGRunPostBody, response: "DAGRunResponse", description: "`conf` is validated against the DAG's `params`." },
  { method: "post", path: "/api/v2/dags/{dag_id}/dagRuns/list", operationId: "get_list_dag_runs_batch", tag: "DagRun", summary: "Get List Dag Runs Batch", body: DAGRunsBatchBody, response: "DAGRunCollectionResponse", role: "viewer", description: "`dag_id` must be `~`; filters travel in the body. A read: viewers may call it." },
  { method: "get", path: "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}", operationId: "get_dag_run", tag: "DagRun", summary: "Get Dag Run", response: "DAGRunResponse" },
  { method: "patch", path: "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}", operationId: "patch_dag_run", tag: "DagRun", summary: "Patch Dag Run", query: RunPatchQuery, body: DAGRunPatchBody, response: "DAGRunResponse" },
  { method: "delete", path: "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}", operationId: "delete_dag_run", tag: "DagRun", summary: "Delete Dag Run", status: 204, response: null },
  { method: "post", path: "/api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/clear", operationId: "clear_dag_run", tag: "DagRun", summary: "Clear Dag Run", body: DAGRunClearBody, response: anyOf("TaskInstanceCollectionResponse", "DAGRunResponse"), description: "A dry run (the default) answers the task instances that would be cleared; a real clear answers the run." },
  // ---- task instances ----
  { method: "get", path: TI, operationId: "get_task_instances", tag: "Task Instance", summary: "Get Task Instances", query: TaskInstancesQuery, response: "TaskInstanceCollectionResponse", description: `${WILDCARD_NOTE} Updraft has no executors: \`executor\` is always null.` },
  { method: "patch", path: TI, operationId: "bulk_task_instances", tag: "Task Instance", summary: "Bulk Task Instances", body: TiBulkBody, response: "BulkResponse", description: "`update` marks success/failed and sets notes; `delete` deletes. Task instances come from the DAG, so `create` reports each entity as an error (405). Entities are named `task_id` or `task_id[map_index]`." },
  { method: "post", path: `${TI}/list`, operationId: "get_task_instances_batch", tag: "Task Instance", summary: "Get Task Instances Batch", body: TaskInstancesBatchBody, response: "TaskInstanceCollectionResponse", role: "viewer", description: "`dag_id` and `dag_run_id` must be `~`; filters travel in the body. A read: viewers may call it." },
  { method: "get", path: `${TI}/{task_id}`, operationId: "get_task_instance", tag: "Task Instance", summary: "Get Task Instance", response: "TaskInstanceResponse" },
  { method: "patch", path: `${TI}/{task_id}`, operationId: "patch_task_instance", tag: "Task Instance", summary: "Patch Task Instance", query: TiPatchQuery, body: PatchTaskInstanceBody, response: "TaskInstanceCollectionResponse", description: "`include_past` / `include_future` also mark the task in the DAG's earlier / later runs by logical date (a run without a logical date is alone)." },
  { method: "delete", path: `${TI}/{task_id}`, operationId: "delete_task_instance", tag: "Task Instance", summary: "Delete Task Instance", query: TiDeleteQuery, response: { type: "null" }, description: "Its tries, logs and XComs go with it; the run is recounted." },
  { method: "get", path: `${TI}/{task_id}/{map_index}`, operationId: "get_mapped_task_instance", tag: "Task Instance", summary: "Get Mapped Task Instance", response: "TaskInstanceResponse", integerParams: ["map_index"] },
  { method: "patch", path: `${TI}/{task_id}/{map_index}`, operationId: "patch_task_instance_by_map_index", tag: "Task Instance", summary: "Patch Task Instance", query: TiPatchQuery, body: PatchTaskInstanceBody, response: "TaskInstanceCollectionResponse", integerParams: ["map_index"] },
  { method: "get", path: `${TI}/{task_id}/tries`, operationId: "get_task_instance_tries", tag: "Task Instance", summary: "Get Task Instance Tries", query: TriesQuery, response: "TaskInstanceHistoryCollectionResponse" },
  { method: "get", path: `${TI}/{task_id}/logs/{try_number}`, operationId: "get_log", tag: "Task Instance", summary: "Get Log", query: LogQuery, response: "TaskInstancesLogResponse", integerParams: ["try_number"], description: "Logs live in the database: the whole try comes at once and `continuation_token` is null. `Accept: application/x-ndjson` streams one JSON line per message. Secrets are masked." },
  { method: "post", path: "/api/v2/dags/{dag_id}/clearTaskInstances", operationId: "post_clear_task_instances", tag: "Task Instance", summary: "Post Clear Task Instances", body: ClearTaskInstancesBody, response: "TaskInstanceCollectionResponse", description: "With `dag_run_id`, that run only (the body's dates are unused) unless `include_past` / `include_future` widen it to the runs whose logical date is at or before / after that run's (400 for a run without a logical date); without it, `start_date`..`end_date` on the runs' logical dates, with `include_past` / `include_future` dropping the lower / upper bound. `reset_dag_runs: false` leaves the runs' states alone: in a finished run, the cleared TIs wait until the run runs again." },
  // ---- XCom ----
  { method: "get", path: `${TI}/{task_id}/xcomEntries`, operationId: "get_xcom_entries", tag: "XCom", summary: "Get Xcom Entries", query: XComListQuery, response: "XComCollectionResponse", description: WILDCARD_NOTE },
  { method: "post", path: `${TI}/{task_id}/xcomEntries`, operationId: "create_xcom_entry", tag: "XCom", summary: "Create Xcom Entry", body: XComCreateBody, status: 201, response: "XComResponseNative", description: "The task instance must exist. Values are JSON." },
  { method: "get", path: `${TI}/{task_id}/xcomEntries/{xcom_key}`, operationId: "get_xcom_entry", tag: "XCom", summary: "Get Xcom Entry", query: XComGetQuery, response: anyOf("XComResponseNative", "XComResponseString"), description: "Values are plain JSON, so `deserialize` changes nothing; `stringify=true` answers the JSON text." },
  { method: "patch", path: `${TI}/{task_id}/xcomEntries/{xcom_key}`, operationId: "update_xcom_entry", tag: "XCom", summary: "Update Xcom Entry", body: XComUpdateBody, response: "XComResponseNative" },
  // ---- backfills ----
  { method: "get", path: "/api/v2/backfills", operationId: "list_backfills", tag: "Backfill", summary: "List Backfills", query: BackfillListQuery, response: "BackfillCollectionResponse" },
  { method: "post", path: "/api/v2/backfills", operationId: "create_backfill", tag: "Backfill", summary: "Create Backfill", body: BackfillPostBody, response: "BackfillResponse" },
  { method: "post", path: "/api/v2/backfills/dry_run", operationId: "create_backfill_dry_run", tag: "Backfill", summary: "Create Backfill Dry Run", body: BackfillPostBody, response: "DryRunBackfillCollectionResponse" },
  { method: "get", path: "/api/v2/backfills/{backfill_id}", operationId: "get_backfill", tag: "Backfill", summary: "Get Backfill", response: "BackfillResponse", integerParams: ["backfill_id"] },
  { method: "put", path: "/api/v2/backfills/{backfill_id}/pause", operationId: "pause_backfill", tag: "Backfill", summary: "Pause Backfill", response: "BackfillResponse", integerParams: ["backfill_id"] },
  { method: "put", path: "/api/v2/backfills/{backfill_id}/unpause", operationId: "unpause_backfill", tag: "Backfill", summary: "Unpause Backfill", response: "BackfillResponse", integerParams: ["backfill_id"] },
  { method: "put", path: "/api/v2/backfills/{backfill_id}/cancel", operationId: "cancel_backfill", tag: "Backfill", summary: "Cancel Backfill", response: "BackfillResponse", integerParams: ["backfill_id"] },
  // ---- import errors ----
  { method: "get", path: "/api/v2/importErrors", operationId: "get_import_errors", tag: "Import Error", summary: "Get Import Errors", query: ImportErrorsQuery, response: "ImportErrorCollectionResponse" },
  { method: "get", path: "/api/v2/importErrors/{import_error_id}", operationId: "get_import_error", tag: "Import Error", summary: "Get Import Error", response: "ImportErrorResponse", integerParams: ["import_error_id"] },
  // ---- pools, variables, connections (admin; their routes validate with Airflow's body shapes) ----
  // Pools are readable by everyone (the UI shows their occupancy); variables and connections hold secrets.
  ...crud("pools", "pool_name", "Pool", "PoolBody", "PoolPatchBody", "viewer"),
  ...crud("variables", "variable_key", "Variable", "VariableBody", "VariableBody", "admin"),
  ...crud("connections", "connection_id", "Connection", "ConnectionBody", "ConnectionBody", "admin"),
  // ---- audit log (not in v2-core.yaml; Airflow's Event Log resource) ----
  { method: "get", path: "/api/v2/eventLogs", operationId: "get_event_logs", tag: "Event Log", summary: "Get Event Logs", query: EventLogsQuery, response: "EventLogCollectionResponse", role: "admin", description: "The audit log: every successful state-changing API call and every login — who (`owner`), what (`event`, the operation id; `extra` holds method, path, status, role and client address), when." },
  { method: "get", path: "/api/v2/eventLogs/{event_log_id}", operationId: "get_event_log", tag: "Event Log", summary: "Get Event Log", response: "EventLogResponse", role: "admin", integerParams: ["event_log_id"] },
  // ---- model registry, serving and run metrics (issue 7; not in Airflow) ----
  { method: "get", path: "/api/v2/models", operationId: "get_models", tag: "Model", summary: "Get Models", response: "ModelCollectionResponse", description: "Models registered by DAG tasks (`ctx.models.register`), with their latest and production versions." },
  { method: "get", path: "/api/v2/models/{name}/versions", operationId: "get_model_versions", tag: "Model", summary: "Get Model Versions", response: "ModelVersionCollectionResponse", description: "Newest first, with metrics, params, artifact path in the lake and the run and task that registered each." },
  { method: "post", path: "/api/v2/models/{name}/versions/{version}/promote", operationId: "promote_model_version", tag: "Model", summary: "Promote Model Version", response: "ModelVersionResponse", integerParams: ["version"], description: "Makes the version production and archives the previous one. Rollback is promoting an older version; predictions switch to it from the next request, on every web server." },
  { method: "post", path: "/api/v2/models/{name}/predict", operationId: "predict", tag: "Model", summary: "Predict", body: Models.PredictBody, response: "PredictionResponse", description: "Predictions of the production version. Each instance must have exactly the numeric features of that version's feature schema: a missing, extra or non-numeric field is a 422 naming it. 404 when the model has no production version." },
  { method: "get", path: "/api/v2/dags/{dag_id}/metrics", operationId: "get_dag_metrics", tag: "Metrics", summary: "Get Dag Metrics", query: Models.MetricsQuery, response: "MetricCollectionResponse", description: "Values logged with `ctx.metrics.log` by the DAG's tasks (latest try of each task instance), oldest run first, over the last `limit` runs (default 100)." },
];

/** The six operations Airflow has for an admin resource, documented by Airflow's body schemas. */
function crud(resource: string, key: string, tag: string, body: string, patchBody: string, readRole: "viewer" | "admin"): Operation[] {
  const one = `/api/v2/${resource}/{${key}}`;
  const plural = `${tag}s`;
  const id = tag.toLowerCase();
  return [
    { method: "get", path: `/api/v2/${resource}`, operationId: `get_${resource}`, tag, summary: `Get ${plural}`, response: `${tag}CollectionResponse`, role: readRole },
    { method: "post", path: `/api/v2/${resource}`, operationId: `post_${id}`, tag, summary: `Post ${tag}`, body, status: 201, response: `${tag}Response`, role: "admin" },
    { method: "patch", path: `/api/v2/${resource}`, operationId: `bulk_${resource}`, tag, summary: `Bulk ${plural}`, body: `BulkBody_${body}_`, response: "BulkResponse", role: "admin" },
    { method: "get", path: one, operationId: `get_${id}`, tag, summary: `Get ${tag}`, response: `${tag}Response`, role: readRole },
    { method: "patch", path: one, operationId: `patch_${id}`, tag, summary: `Patch ${tag}`, body: patchBody, response: `${tag}Response`, role: "admin" },
    { method: "delete", path: one, operationId: `delete_${id}`, tag, summary: `Delete ${tag}`, status: 204, response: null, role: "admin" },
  ];
}
