// GET /api/v2/dags/{dag_id}/dagRuns/{dag_run_id}/taskInstances/{task_id}/{map_index}: one TI of a
// mapped task (d.map), as Airflow's get_mapped_task_instance. PATCH of the same path (mark one
// mapped TI) is in taskInstanceActions.ts; its tries and logs take `?map_index=`. Registered after
// the other TI routers: a second segment that is not an integer (`tries`, `xcomEntries`) is theirs.
import express from "express";
import { NotFoundError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import { taskInstanceResponse } from "../serializers.js";
import { pathParams } from "../validate.js";
import { selectTaskInstances } from "./taskInstances.js";

const INTEGER = /^-?\d+$/;

export function mappedTaskInstancesRouter(store: Store): express.Router {
  const router = express.Router();
  router.get("/dags/:dag_id/dagRuns/:dag_run_id/taskInstances/:task_id/:map_index", async (req, res, next) => {
    if (!INTEGER.test(req.params.map_index ?? "")) return next();
    const { dag_id: dagId, dag_run_id: runId, task_id: taskId } = pathParams(req.params, "dag_id", "dag_run_id", "task_id");
    const mapIndex = Number(req.params.map_index);
    const row = await selectTaskInstances(store.db)
      .where("r.dag_id", "=", dagId)
      .where("r.run_id", "=", runId)
      .where("ti.task_id", "=", taskId)
      .where("ti.map_index", "=", mapIndex)
      .executeTakeFirst();
    if (!row) {
      throw new NotFoundError(`The Mapped Task Instance with dag_id: \`${dagId}\`, run_id: \`${runId}\`, task_id: \`${taskId}\`, and map_index: \`${mapIndex}\` was not found`);
    }
    res.json(taskInstanceResponse(row));
  });
  return router;
}
