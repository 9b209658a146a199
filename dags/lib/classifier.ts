// Training, evaluating and saving a classifier for the example ML pipelines (ml-random-forest).
// The saved artifact is the contract with the model server (web/server/models/): the forest's
// toJSON() plus the feature schema that predict requests are validated against.
import path from "node:path";
import { RandomForestClassifier } from "ml-random-forest";
import { lakePath, writeJsonAtomic } from "./lake.js";

export const ARTIFACT_FORMAT = "model-artifact/1";

export interface FeatureSchema {
  /** Input fields of a prediction, in the order the model reads them. */
  features: { name: string; type: "number" }[];
  label: string;
  /** Class names; the model predicts their index. */
  classes: string[];
}

export interface ForestParams {
  nEstimators: number;
  maxDepth: number;
  maxFeatures: number;
  seed: number;
}

export interface Evaluation {
  accuracy: number;
  macroF1: number;
  /** confusion[actual][predicted], rows and columns in `classes` order. */
  confusion: number[][];
  classes: string[];
  trainRows: number;
  testRows: number;
}

export function trainForest(x: number[][], y: number[], params: ForestParams): RandomForestClassifier {
  const forest = new RandomForestClassifier({
    nEstimators: params.nEstimators,
    maxFeatures: params.maxFeatures,
    seed: params.seed,
    replacement: true,
    useSampleBagging: true,
    noOOB: true,
    treeOptions: { maxDepth: params.maxDepth },
  } as ConstructorParameters<typeof RandomForestClassifier>[0]);
  forest.train(x, y);
  return forest;
}

/** Accuracy, macro-averaged F1 (classes absent from both truth and predictions are left out) and the confusion matrix. */
export function evaluate(actual: number[], predicted: number[], classes: string[], trainRows: number): Evaluation {
  const confusion = classes.map(() => classes.map(() => 0));
  actual.forEach((a, i) => confusion[a]![predicted[i]!]!++);
  const correct = actual.filter((a, i) => a === predicted[i]).length;
  const f1s: number[] = [];
  classes.forEach((_, c) => {
    const tp = confusion[c]![c]!;
    const fn = confusion[c]!.reduce((s, v) => s + v, 0) - tp;
    const fp = confusion.reduce((s, row) => s + row[c]!, 0) - tp;
    if (tp + fn + fp === 0) return;
    f1s.push(tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn));
  });
  const round = (v: number) => Math.round(v * 10_000) / 10_000;
  return {
    accuracy: actual.length ? round(correct / actual.length) : 0,
    macroF1: f1s.length ? round(f1s.reduce((s, v) => s + v, 0) / f1s.length) : 0,
    confusion,
    classes,
    trainRows,
    testRows: actual.length,
  };
}

/** Saves the model as `lake/models/<name>/<key>.json`; one file per run and try, so a retry never overwrites a registered artifact. */
export function saveArtifact(name: string, key: string, forest: RandomForestClassifier, featureSchema: FeatureSchema, extra: Record<string, unknown> = {}): string {
  const file = lakePath("models", name, `${key.replace(/[^A-Za-z0-9_.-]+/g, "_")}.json`);
  writeJsonAtomic(file, { format: ARTIFACT_FORMAT, algorithm: "random_forest", featureSchema, model: forest.toJSON(), ...extra });
  return path.resolve(file);
}
