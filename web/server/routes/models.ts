// The model registry and serving (issue 7), and run metrics (ctx.metrics.log):
//   GET  /api/v2/models                                      models with their latest and production versions
//   GET  /api/v2/models/{name}/versions                      versions, newest first, with metrics and source run
//   POST /api/v2/models/{name}/versions/{version}/promote    operator: make it production (rollback = an older one)
//   POST /api/v2/models/{name}/predict                       operator: {instances: [{feature: number…}]} → predictions
//   GET  /api/v2/dags/{dag_id}/metrics[?dag_run_id=&name=]   metrics logged by the DAG's tasks, oldest run first
// Writes need the operator role through the API-wide writesNeedOperator.
import express from "express";
import { z } from "zod";
import { NotFoundError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import { readDagMetrics } from "../../../engine/store/metrics/readMetrics.js";
import { listModels, listModelVersions, modelExists } from "../../../engine/store/models/readModels.js";
import { promoteModelVersion } from "../../../engine/store/models/promoteModelVersion.js";
import type { ModelVersionInfo } from "../../../engine/authoring/types.js";
import { ModelServer } from "../models/modelServer.js";
import { parse, queryInt, queryString } from "../validate.js";

const ModelPath = z.object({ name: z.string().regex(/^[A-Za-z0-9_.-]+$/) });
const VersionPath = ModelPath.extend({ version: queryInt({ min: 1 }) });
const MetricsPath = z.object({ dag_id: z.string() });
export const MetricsQuery = z.object({ dag_run_id: queryString.optional(), name: queryString.optional(), limit: queryInt({ min: 1, max: 1000 }).optional() });

// Response shapes, documented in the OpenAPI document from these schemas (openapi/operations.ts).
export const ModelResponse = z.object({ name: z.string(), created_at: z.iso.datetime({ offset: true }), latest_version: z.number().int().nullable(), production_version: z.number().int().nullable() });
export const ModelCollectionResponse = z.object({ models: z.array(ModelResponse), total_entries: z.number().int() });
export const ModelVersionResponse = z.object({
  name: z.string(),
  version: z.number().int(),
  stage: z.enum(["none", "production", "archived"]),
  artifact_path: z.string(),
  feature_schema: z.record(z.string(), z.unknown()),
  metrics: z.record(z.string(), z.unknown()),
  params: z.record(z.string(), z.unknown()),
  source_dag_id: z.string().nullable(),
  source_run_id: z.string().nullable(),
  source_task_id: z.string().nullable(),
  source_try_number: z.number().int().nullable(),
  created_at: z.iso.datetime({ offset: true }),
});
export const ModelVersionCollectionResponse = z.object({ versions: z.array(ModelVersionResponse), total_entries: z.number().int() });
/** What a predict body looks like in general; each request is validated against the serving version's feature schema. */
export const PredictBody = z.object({ instances: z.array(z.record(z.string(), z.number())).min(1).max(1000) });
export const PredictionResponse = z.object({ model: z.string(), version: z.number().int(), predictions: z.array(z.record(z.string(), z.union([z.string(), z.number(), z.null()]))) });
export const MetricResponse = z.object({
  dag_run_id: z.string(),
  logical_date: z.iso.datetime({ offset: true }).nullable(),
  task_id: z.string(),
  map_index: z.number().int(),
  try_number: z.number().int(),
  name: z.string(),
  value: z.number(),
  step: z.number().int().nullable(),
  logged_at: z.iso.datetime({ offset: true }),
});
export const MetricCollectionResponse = z.object({ metrics: z.array(MetricResponse), total_entries: z.number().int() });

const versionResponse = (v: ModelVersionInfo): z.output<typeof ModelVersionResponse> => ({
  name: v.name,
  version: v.version,
  stage: v.stage,
  artifact_path: v.artifactPath,
  feature_schema: v.featureSchema,
  metrics: v.metrics,
  params: v.params,
  source_dag_id: v.source.dagId,
  source_run_id: v.source.runId,
  source_task_id: v.source.taskId,
  source_try_number: v.source.tryNumber,
  created_at: v.createdAt,
});

export function modelsRouter(store: Store): express.Router {
  const router = express.Router();
  const server = new ModelServer(store);

  const mustExist = async (name: string) => {
    if (!(await modelExists(store.db, name))) throw new NotFoundError(`The Model with name: \`${name}\` was not found`);
  };

  router.get("/models", async (_req, res) => {
    const models = await listModels(store.db);
    res.json({
      models: models.map((m) => ({ name: m.name, created_at: m.createdAt, latest_version: m.latestVersion, production_version: m.productionVersion })),
      total_entries: models.length,
    });
  });

  router.get("/models/:name/versions", async (req, res) => {
    const { name } = parse(ModelPath, req.params, "path");
    await mustExist(name);
    const versions = await listModelVersions(store.db, name);
    res.json({ versions: versions.map(versionResponse), total_entries: versions.length });
  });

  router.post("/models/:name/versions/:version/promote", async (req, res) => {
    const { name, version } = parse(VersionPath, req.params, "path");
    await mustExist(name);
    if (!(await promoteModelVersion(store.db, name, version))) throw new NotFoundError(`Version ${version} of model \`${name}\` was not found`);
    const versions = await listModelVersions(store.db, name);
    res.json(versionResponse(versions.find((v) => v.version === version)!));
  });

  router.post("/models/:name/predict", async (req, res) => {
    const { name } = parse(ModelPath, req.params, "path");
    await mustExist(name);
    const model = await server.production(name);
    const { instances } = parse(model.body, req.body, "body");
    const features = model.featureSchema.features.map((f) => f.name);
    const predicted = model.predict(instances.map((i) => features.map((f) => i[f]!)));
    res.json({
      model: name,
      version: model.version,
      predictions: predicted.map((index) => ({ [model.featureSchema.label]: model.featureSchema.classes[index] ?? null, class_index: index })),
    });
  });

  router.get("/dags/:dag_id/metrics", async (req, res) => {
    const { dag_id: dagId } = parse(MetricsPath, req.params, "path");
    const q = parse(MetricsQuery, req.query, "query");
    const dag = await store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", dagId).executeTakeFirst();
    if (!dag) throw new NotFoundError(`The Dag with ID: \`${dagId}\` was not found`);
    const rows = await readDagMetrics(store.db, dagId, { runId: q.dag_run_id, name: q.name, limitRuns: q.limit });
    res.json({
      metrics: rows.map((r) => ({
        dag_run_id: r.runId,
        logical_date: r.logicalDate,
        task_id: r.taskId,
        map_index: r.mapIndex,
        try_number: r.tryNumber,
        name: r.name,
        value: r.value,
        step: r.step,
        logged_at: r.loggedAt,
      })),
      total_entries: rows.length,
    });
  });

  return router;
}
