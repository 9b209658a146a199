// The second dataset (vega-datasets' penguins.json), showing dynamic task mapping: one training
// task per hyper-parameter set (d.map), the best of them picked by macro-F1, and deployed to the
// model registry only if it beats the production model by `margin`.
import { dag, type DagSpec } from "updraft";
import { evaluate, saveArtifact, trainForest, type FeatureSchema, type ForestParams } from "./lib/classifier.js";
import { PENGUIN_FEATURES, readPenguins, readPenguinsLake, SPECIES, splitPenguins, writePenguins, type Penguin } from "./lib/penguins.js";

export const PENGUIN_MODEL = "penguin_species";

const FEATURE_SCHEMA: FeatureSchema = {
  features: PENGUIN_FEATURES.map((name) => ({ name, type: "number" as const })),
  label: "species",
  classes: [...SPECIES],
};

const vector = (p: Penguin) => PENGUIN_FEATURES.map((f) => p[f]);
const label = (p: Penguin) => (SPECIES as readonly string[]).indexOf(p.species);

/** The grid searched by default: one mapped training task each. */
const DEFAULT_GRID: Omit<ForestParams, "seed">[] = [
  { nEstimators: 3, maxDepth: 2, maxFeatures: 0.5 },
  { nEstimators: 10, maxDepth: 3, maxFeatures: 0.75 },
  { nEstimators: 25, maxDepth: 5, maxFeatures: 0.75 },
  { nEstimators: 50, maxDepth: 8, maxFeatures: 1 },
];

export function penguinsModel(overrides: Partial<DagSpec> = {}) {
  return dag(
    {
      id: "penguins_model",
      schedule: null,
      start: "2024-01-01",
      maxActiveRuns: 1,
      params: {
        grid: { type: "array", default: DEFAULT_GRID, description: "Hyper-parameter sets: [{nEstimators, maxDepth, maxFeatures}]; one training task each" },
        holdout_fraction: { type: "number", default: 0.25, minimum: 0.1, maximum: 0.5 },
        seed: { type: "integer", default: 7 },
        margin: { type: "number", default: 0.01, description: "Deploy only if macro-F1 beats production's by more than this" },
      },
      defaults: { retries: 1, retryDelay: "5s", timeout: "5m" },
      tags: ["example", "ml", "mapping"],
      description: "Penguin species classifier: a mapped hyper-parameter search, best model gated into production",
      ...overrides,
    },
    (d) => {
      const load = d.task("load_dataset", async (ctx) => {
        const { rows, dropped } = readPenguins();
        const where = await writePenguins(rows);
        ctx.log.info(`${rows.length} penguins to ${where} (${dropped} with missing measurements left out)`);
        return { rows: rows.length, dropped };
      });

      const grid = d.task("param_grid", [load], (ctx) => {
        const sets = ctx.params.grid as Omit<ForestParams, "seed">[];
        if (!Array.isArray(sets) || !sets.length) ctx.fail("params.grid must be a non-empty list of hyper-parameter sets");
        return sets.map((s) => ({ nEstimators: Number(s.nEstimators), maxDepth: Number(s.maxDepth), maxFeatures: Number(s.maxFeatures ?? 1), seed: Number(ctx.params.seed) }));
      });

      const train = d.map("train", grid, async (ctx, params) => {
        const { train: trainRows, test } = splitPenguins(await readPenguinsLake(), Number(ctx.params.holdout_fraction));
        const forest = trainForest(trainRows.map(vector), trainRows.map(label), params);
        const result = evaluate(test.map(label), forest.predict(test.map(vector)), [...SPECIES], trainRows.length);
        ctx.metrics.log("param.n_estimators", params.nEstimators);
        ctx.metrics.log("param.max_depth", params.maxDepth);
        ctx.metrics.log("accuracy", result.accuracy);
        ctx.metrics.log("macro_f1", result.macroF1);
        const artifactPath = saveArtifact(PENGUIN_MODEL, `${ctx.runId}-set${ctx.mapIndex}-try${ctx.tryNumber}`, forest, FEATURE_SCHEMA);
        ctx.log.info(`set ${ctx.mapIndex} ${JSON.stringify(params)}: accuracy ${result.accuracy}, macro-F1 ${result.macroF1}`);
        return { ...result, params, artifactPath, mapIndex: ctx.mapIndex };
      });

      const best = d.task("pick_best", [train], (ctx, results) => {
        // Ties go to the smaller forest (listed first in a grid ordered by size).
        const winner = results.reduce((a, b) => (b.macroF1 > a.macroF1 ? b : a));
        ctx.metrics.log("best.macro_f1", winner.macroF1);
        ctx.log.info(`best: set ${winner.mapIndex} ${JSON.stringify(winner.params)} with macro-F1 ${winner.macroF1}`);
        return winner;
      });

      const gate = d.branch("beats_production", [best], async (ctx, candidate) => {
        const production = await ctx.models.production(PENGUIN_MODEL);
        const current = production ? Number(production.metrics.macro_f1 ?? 0) : null;
        const deploy = current === null || candidate.macroF1 > current + Number(ctx.params.margin);
        ctx.log.info(production ? `candidate ${candidate.macroF1} vs production v${production.version} ${current}` : "no production model yet");
        return deploy ? "deploy" : "notify_not_deployed";
      });

      const deploy = d.task("deploy", [best], (ctx, candidate) => {
        ctx.models.register(PENGUIN_MODEL, {
          artifactPath: candidate.artifactPath,
          featureSchema: FEATURE_SCHEMA as unknown as Record<string, unknown>,
          metrics: { accuracy: candidate.accuracy, macro_f1: candidate.macroF1, confusion: candidate.confusion, classes: candidate.classes },
          params: candidate.params,
          promote: true,
        });
        return { model: PENGUIN_MODEL, artifactPath: candidate.artifactPath };
      });

      const notify = d.task("notify_not_deployed", [best], (ctx, candidate) => {
        const message = `${PENGUIN_MODEL}: best model of ${ctx.runId} (macro-F1 ${candidate.macroF1}) did not beat production by ${String(ctx.params.margin)}; not deployed`;
        ctx.log.warn(message);
        return message;
      });

      gate.before(deploy, notify);
    },
  );
}

export default penguinsModel();
