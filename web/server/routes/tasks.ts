// /api/v2/dags/{dag_id}/tasks[/{task_id}]: the tasks of a DAG's latest version, in Airflow's
// TaskResponse shape. Fields Updraft has no concept of (UI colours, template fields, extra links)
// carry Airflow's defaults for a plain operator.
import express from "express";
import { z } from "zod";
import { NotFoundError } from "../../../engine/errors.js";
import type { DagStructure, TaskStructure } from "../../../engine/model/structure.js";
import type { Store } from "../../../engine/store/db.js";
import { getVersion } from "../../../engine/store/versions.js";
import { serializeParams } from "../../../engine/params.js";
import { badRequest } from "../errors.js";
import { parse, pathParams, single } from "../validate.js";
import { getDag } from "./dags.js";

export const TasksQuery = z.object({ order_by: single(z.string()).optional() });

/** Airflow's TimeDelta: whole days, then seconds, then microseconds. */
export function timeDelta(ms: number | null): { __type: "TimeDelta"; days: number; seconds: number; microseconds: number } | null {
  if (ms === null) return null;
  const totalSeconds = Math.floor(ms / 1000);
  return { __type: "TimeDelta", days: Math.floor(totalSeconds / 86_400), seconds: totalSeconds % 86_400, microseconds: Math.round((ms % 1000) * 1000) };
}

/** The module path Airflow would report for each operator class (class_ref). */
const OPERATOR_MODULES: Record<string, string> = {
  PythonOperator: "airflow.providers.standard.operators.python",
  BranchPythonOperator: "airflow.providers.standard.operators.python",
  ShortCircuitOperator: "airflow.providers.standard.operators.python",
  BashOperator: "airflow.providers.standard.operators.bash",
  HttpOperator: "airflow.providers.http.operators.http",
};

export function taskResponse(dag: DagStructure, t: TaskStructure) {
  return {
    task_id: t.taskId,
    task_display_name: t.taskId,
    owner: dag.owners[0] ?? "airflow",
    start_date: dag.start,
    end_date: dag.end,
    trigger_rule: t.triggerRule,
    depends_on_past: t.dependsOnPast,
    // Updraft has no wait_for_downstream.
    wait_for_downstream: false,
    retries: t.retries,
    queue: t.queue,
    pool: t.pool,
    pool_slots: t.poolSlots,
    execution_timeout: timeDelta(t.timeoutMs),
    retry_delay: timeDelta(t.retryDelayMs),
    retry_exponential_backoff: t.retryExponentialBackoff,
    priority_weight: t.priorityWeight,
    weight_rule: t.weightRule,
    ui_color: "#fff",
    ui_fgcolor: "#000",
    template_fields: [],
    downstream_task_ids: [...t.downstream].sort(),
    doc_md: t.doc,
    operator_name: t.operator,
    params: serializeParams(dag.params),
    class_ref: { module_path: OPERATOR_MODULES[t.operator] ?? "updraft", class_name: t.operator },
    is_mapped: Boolean((t as { isMapped?: boolean }).isMapped),
    extra_links: [],
  };
}

type TaskResponse = ReturnType<typeof taskResponse>;

/** The scalar attributes a task list can be sorted by. */
const SORTABLE = new Set<string>([
  "task_id", "task_display_name", "owner", "start_date", "end_date", "trigger_rule", "depends_on_past", "wait_for_downstream", "retries",
  "queue", "pool", "pool_slots", "retry_exponential_backoff", "priority_weight", "weight_rule", "operator_name", "doc_md", "is_mapped",
]);

async function latestStructure(store: Store, dagId: string): Promise<DagStructure> {
  const dag = await getDag(store.db, dagId);
  if (!dag.latest_version_id) throw new NotFoundError(`The Dag with ID: \`${dagId}\` was not found`);
  return (await getVersion(store.db, dag.latest_version_id)).structure;
}

export function tasksRouter(store: Store): express.Router {
  const router = express.Router();

  router.get("/dags/:dag_id/tasks", async (req, res) => {
    const { dag_id: dagId } = pathParams(req.params, "dag_id");
    const { order_by: orderBy = "task_id" } = parse(TasksQuery, req.query, "query");
    const structure = await latestStructure(store, dagId);
    const tasks = structure.tasks.map((t) => taskResponse(structure, t));
    // As Airflow: sorted by one attribute of the response, `-` for descending.
    const desc = orderBy.startsWith("-");
    const field = (desc ? orderBy.slice(1) : orderBy) as keyof TaskResponse;
    if (!SORTABLE.has(field)) throw badRequest(`Ordering with '${field}' is disallowed or the attribute does not exist on the model`);
    tasks.sort((a, b) => compare(a[field], b[field]) * (desc ? -1 : 1) || compare(a.task_id, b.task_id));
    res.json({ tasks, total_entries: tasks.length });
  });

  router.get("/dags/:dag_id/tasks/:task_id", async (req, res) => {
    const { dag_id: dagId, task_id: taskId } = pathParams(req.params, "dag_id", "task_id");
    const structure = await latestStructure(store, dagId);
    const task = structure.tasks.find((t) => t.taskId === taskId);
    if (!task) throw new NotFoundError(`Task with id ${taskId} not found`);
    res.json(taskResponse(structure, task));
  });

  return router;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  return (a as string | number) < (b as string | number) ? -1 : 1;
}
