// Serving a model's production version (POST /api/v2/models/{name}/predict). The loaded model is
// cached per web server and hot-swapped on promotion without a restart: every prediction first
// asks which version row serves now (one indexed lookup), and reloads the artifact when that
// changed — so a promotion or rollback by any process is served from the next request on.
import fs from "node:fs";
import type { RandomForestClassifier } from "ml-random-forest";
import { z } from "zod";
import { NotFoundError, UpdraftError } from "../../../engine/errors.js";
import type { Store } from "../../../engine/store/db.js";
import { getProductionVersion, productionVersionId } from "../../../engine/store/models/readModels.js";

/** The artifact a training task writes (dags/lib/classifier.ts). */
const Artifact = z.object({
  format: z.literal("model-artifact/1"),
  algorithm: z.literal("random_forest"),
  featureSchema: z.object({
    features: z.array(z.object({ name: z.string().min(1), type: z.literal("number") })).min(1),
    label: z.string(),
    classes: z.array(z.string()).min(1),
  }),
  model: z.record(z.string(), z.unknown()),
});
export type FeatureSchema = z.infer<typeof Artifact>["featureSchema"];

export interface LoadedModel {
  rowId: number;
  name: string;
  version: number;
  featureSchema: FeatureSchema;
  /** One feature vector per instance → class indices. */
  predict(vectors: number[][]): number[];
  /** `{instances: [{feature: number, …}]}`, strict: the body schema of a predict request. */
  body: z.ZodType<{ instances: Record<string, number>[] }>;
}

export class ModelServer {
  private readonly loaded = new Map<string, Promise<LoadedModel>>();

  constructor(private readonly store: Store) {}

  /** The production version of `name`, loaded; 404 when the model or a production version is missing. */
  async production(name: string): Promise<LoadedModel> {
    const rowId = await productionVersionId(this.store.db, name);
    if (rowId === null) throw new NotFoundError(`Model \`${name}\` has no production version`);
    let current = this.loaded.get(name);
    if (current) {
      const model = await current.catch(() => null);
      if (model?.rowId === rowId) return model;
    }
    current = this.load(name);
    this.loaded.set(name, current);
    // A failed load is not cached: the next request tries again (the artifact may be restored).
    current.catch(() => this.loaded.get(name) === current && this.loaded.delete(name));
    return current;
  }

  private async load(name: string): Promise<LoadedModel> {
    const info = await getProductionVersion(this.store.db, name);
    if (!info) throw new NotFoundError(`Model \`${name}\` has no production version`);
    let artifact: z.infer<typeof Artifact>;
    try {
      artifact = Artifact.parse(JSON.parse(await fs.promises.readFile(info.artifactPath, "utf8")));
    } catch (err) {
      // The registry points at a file this server cannot read: a server-side problem, said plainly.
      throw new UpdraftError(`the artifact of ${name} v${info.version} (${info.artifactPath}) cannot be loaded: ${(err as Error).message}`, "model_unavailable", 503);
    }
    // Loaded on the first prediction: ml-random-forest and the ml-* packages under it are of use
    // only to a server that serves a model, and would otherwise sit in every web server's heap.
    const { RandomForestClassifier: Forest } = await import("ml-random-forest");
    const forest = Forest.load(artifact.model as unknown as Parameters<typeof RandomForestClassifier.load>[0]);
    const features = artifact.featureSchema.features.map((f) => f.name);
    const instance = z.strictObject(Object.fromEntries(features.map((f) => [f, z.number().finite()])) as Record<string, z.ZodNumber>);
    return {
      rowId: info.id,
      name,
      version: info.version,
      featureSchema: artifact.featureSchema,
      predict: (vectors) => forest.predict(vectors),
      body: z.strictObject({ instances: z.array(instance).min(1).max(1000) }) as unknown as LoadedModel["body"],
    };
  }
}
