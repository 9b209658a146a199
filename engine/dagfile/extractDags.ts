// Importing a bundled DAG file and turning every DAG it exports into a validated structure.
// Runs inside the importer child (so a hang or crash costs only that child) and in-process for
// `updraft dags test`.
import { pathToFileURL } from "node:url";
import { isDagDefinition, type DagDefinition } from "../authoring/index.js";
import { buildStructure, DagDefinitionError, type DagStructure } from "../model/structure.js";

export interface ImportProblem {
  message: string;
  line: number | null;
  stack: string;
}

/** The DAG definitions a module exports (default and named), de-duplicated. */
export function dagsOf(mod: Record<string, unknown>): DagDefinition[] {
  const found = new Set<DagDefinition>();
  for (const value of Object.values(mod)) if (isDagDefinition(value)) found.add(value);
  return [...found];
}

export async function importBundle(bundleFile: string): Promise<Record<string, unknown>> {
  return (await import(pathToFileURL(bundleFile).href)) as Record<string, unknown>;
}

/** First line of `stack` that points into `fileloc`: where the user should look. */
export function lineIn(stack: string | undefined, fileloc: string): number | null {
  if (!stack) return null;
  for (const frame of stack.split("\n")) {
    const i = frame.indexOf(fileloc);
    if (i < 0) continue;
    const m = /:(\d+):\d+\)?\s*$/.exec(frame.slice(i + fileloc.length));
    if (m) return Number(m[1]);
  }
  return null;
}

export async function extractDags(bundleFile: string, fileloc: string): Promise<{ structures: DagStructure[] } | { error: ImportProblem }> {
  let mod: Record<string, unknown>;
  try {
    mod = await importBundle(bundleFile);
  } catch (err) {
    const e = err instanceof Error ? err : new Error(String(err));
    return { error: { message: `${e.name}: ${e.message}`, line: lineIn(e.stack, fileloc), stack: e.stack ?? e.message } };
  }
  const structures: DagStructure[] = [];
  const seen = new Set<string>();
  for (const def of dagsOf(mod)) {
    try {
      if (seen.has(def.id)) throw new DagDefinitionError(`DAG id "${def.id}" is defined twice in this file`);
      seen.add(def.id);
      structures.push(buildStructure(def));
    } catch (err) {
      const e = err as DagDefinitionError;
      const line = lineIn(e.at?.stack, fileloc);
      return { error: { message: e.message, line, stack: `${e.message}${line ? `\n    at ${fileloc}:${line}` : ""}` } };
    }
  }
  return { structures };
}
