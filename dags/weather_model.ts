// Weekly training of a weather-type classifier on the lake that weather_etl fills: build the
// training set, train a random forest, evaluate on a time-based hold-out (the latest days), log
// params and metrics, and deploy — register and promote in the model registry — only when it beats
// the production model by `margin` in macro-F1; otherwise notify and skip the deploy.
import { dag, type DagSpec } from "updraft";
import { evaluate, saveArtifact, trainForest, type FeatureSchema } from "./lib/classifier.js";
import { FEATURES, readLake, WEATHER_TYPES, type FeatureRow } from "./lib/weather.js";

export const MODEL_NAME = "weather_type";

const FEATURE_SCHEMA: FeatureSchema = {
  features: FEATURES.map((name) => ({ name, type: "number" as const })),
  label: "weather",
  classes: [...WEATHER_TYPES],
};

const vector = (row: FeatureRow) => FEATURES.map((f) => Number(row[f]));
const label = (row: FeatureRow) => (WEATHER_TYPES as readonly string[]).indexOf(row.weather);

export function weatherModel(overrides: Partial<DagSpec> = {}) {
  return dag(
    {
      id: "weather_model",
      schedule: "@weekly",
      start: "2016-01-04",
      catchup: false,
      maxActiveRuns: 1,
      params: {
        from: { type: "string", default: "", description: "First day of the training data (YYYY-MM-DD); empty: the lake's first" },
        to: { type: "string", default: "", description: "Last day of the training data; empty: the lake's last" },
        holdout_fraction: { type: "number", default: 0.25, minimum: 0.05, maximum: 0.5, description: "The latest share of days kept for evaluation" },
        n_estimators: { type: "integer", default: 25, minimum: 1, maximum: 500 },
        max_depth: { type: "integer", default: 8, minimum: 1, maximum: 50 },
        seed: { type: "integer", default: 42 },
        margin: { type: "number", default: 0.01, description: "Deploy only if macro-F1 beats production's by more than this" },
        min_rows: { type: "integer", default: 20, minimum: 4, description: "Fewer rows in the lake: skip training" },
      },
      defaults: { retries: 1, retryDelay: "10s", timeout: "10m" },
      tags: ["example", "ml"],
      description: "Train → evaluate → gated deploy of the weather-type classifier",
      doc: "Trains a random forest on `lake/weather`, evaluates it on the latest days (accuracy, macro-F1, confusion matrix), and promotes it to production in the model registry only if it beats the current production model by `margin`. Served at `POST /api/v2/models/weather_type/predict`.",
      ...overrides,
    },
    (d) => {
      const dataset = d.task("build_dataset", async (ctx) => {
        const rows = await readLake(String(ctx.params.from || "") || null, String(ctx.params.to || "") || null);
        if (rows.length < Number(ctx.params.min_rows)) ctx.skip(`only ${rows.length} day(s) in the lake, fewer than min_rows=${String(ctx.params.min_rows)}`);
        ctx.log.info(`${rows.length} day(s) from ${rows[0]!.date} to ${rows.at(-1)!.date}`);
        return rows;
      });

      const train = d.task("train_evaluate", [dataset], (ctx, rows) => {
        // Time-based hold-out: train on the past, evaluate on the latest days, as it will be used.
        const cut = Math.floor(rows.length * (1 - Number(ctx.params.holdout_fraction)));
        const trainRows = rows.slice(0, cut);
        const testRows = rows.slice(cut);
        const params = { nEstimators: Number(ctx.params.n_estimators), maxDepth: Number(ctx.params.max_depth), maxFeatures: 0.8, seed: Number(ctx.params.seed) };
        const forest = trainForest(trainRows.map(vector), trainRows.map(label), params);
        const result = evaluate(testRows.map(label), forest.predict(testRows.map(vector)), [...WEATHER_TYPES], trainRows.length);
        ctx.metrics.log("param.n_estimators", params.nEstimators);
        ctx.metrics.log("param.max_depth", params.maxDepth);
        ctx.metrics.log("train_rows", result.trainRows);
        ctx.metrics.log("test_rows", result.testRows);
        ctx.metrics.log("accuracy", result.accuracy);
        ctx.metrics.log("macro_f1", result.macroF1);
        ctx.log.info(`hold-out ${testRows[0]?.date} … ${testRows.at(-1)?.date}: accuracy ${result.accuracy}, macro-F1 ${result.macroF1}`);
        ctx.log.info(`confusion (rows: actual ${WEATHER_TYPES.join("/")}): ${JSON.stringify(result.confusion)}`);
        const artifactPath = saveArtifact(MODEL_NAME, `${ctx.runId}-try${ctx.tryNumber}`, forest, FEATURE_SCHEMA, {
          trainedOn: { from: trainRows[0]?.date, to: trainRows.at(-1)?.date },
        });
        return { ...result, params, artifactPath, holdout: { from: testRows[0]?.date ?? null, to: testRows.at(-1)?.date ?? null } };
      });

      const gate = d.branch("beats_production", [train], async (ctx, candidate) => {
        const production = await ctx.models.production(MODEL_NAME);
        if (!production) {
          ctx.log.info(`no production ${MODEL_NAME} model yet: deploying`);
          return "deploy";
        }
        const current = Number(production.metrics.macro_f1 ?? 0);
        const margin = Number(ctx.params.margin);
        const better = candidate.macroF1 > current + margin;
        ctx.log.info(`candidate macro-F1 ${candidate.macroF1} vs production v${production.version} ${current} (margin ${margin}): ${better ? "deploying" : "not deploying"}`);
        return better ? "deploy" : "notify_not_deployed";
      });

      const deploy = d.task("deploy", [train], (ctx, candidate) => {
        ctx.models.register(MODEL_NAME, {
          artifactPath: candidate.artifactPath,
          featureSchema: FEATURE_SCHEMA as unknown as Record<string, unknown>,
          metrics: { accuracy: candidate.accuracy, macro_f1: candidate.macroF1, confusion: candidate.confusion, classes: candidate.classes, train_rows: candidate.trainRows, test_rows: candidate.testRows },
          params: candidate.params,
          promote: true,
        });
        ctx.log.info(`registering ${candidate.artifactPath} as the production ${MODEL_NAME} model`);
        return { model: MODEL_NAME, artifactPath: candidate.artifactPath };
      });

      const notify = d.task("notify_not_deployed", [train], (ctx, candidate) => {
        // The notification: a warning in the run's log (a d.http webhook would go here).
        const message = `${MODEL_NAME}: the model of ${ctx.runId} (macro-F1 ${candidate.macroF1}) did not beat production by ${String(ctx.params.margin)}; not deployed`;
        ctx.log.warn(message);
        return message;
      });

      gate.before(deploy, notify);
    },
  );
}

export default weatherModel();
