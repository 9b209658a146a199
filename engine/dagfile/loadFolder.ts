// Loading DAG files in this process (no child, no database): `updraft dags list` and `dags test`.
import os from "node:os";
import path from "node:path";
import { bundleDagFile, bundleDagFiles, type BundleOptions } from "./bundle.js";
import { ensureBundleFile } from "./bundleCache.js";
import { dagsOf, extractDags, importBundle } from "./extractDags.js";
import { listDagFiles } from "./listDagFiles.js";
import type { DagDefinition } from "../authoring/index.js";
import type { DagStructure } from "../model/structure.js";

export interface LoadedFile {
  fileloc: string;
  structures: DagStructure[];
  definitions: DagDefinition[];
  error?: { message: string; line: number | null };
}

export async function loadDagFolder(folder: string, cacheDir = path.join(os.tmpdir(), "updraft-cli-cache"), options: BundleOptions = {}): Promise<LoadedFile[]> {
  const out: LoadedFile[] = [];
  const filelocs = listDagFiles(folder);
  // Bundled together (the modules they share parsed once); each file's result or error kept apart.
  const bundles = await bundleDagFiles(filelocs, options);
  for (const fileloc of filelocs) {
    try {
      const bundled = bundles.get(fileloc) ?? (await bundleDagFile(fileloc, options));
      if (bundled instanceof Error) throw bundled;
      const file = ensureBundleFile(cacheDir, bundled.codeHash, bundled.bundle);
      const result = await extractDags(file, fileloc);
      if ("error" in result) out.push({ fileloc, structures: [], definitions: [], error: result.error });
      else out.push({ fileloc, structures: result.structures, definitions: dagsOf(await importBundle(file)) });
    } catch (err) {
      out.push({ fileloc, structures: [], definitions: [], error: { message: (err as Error).message, line: (err as { line?: number }).line ?? null } });
    }
  }
  return out;
}
