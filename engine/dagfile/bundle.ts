// A DAG file becomes one self-contained ES module (esbuild): its relative imports and `updraft`
// are bundled in, so a worker runs exactly the code of the version it was given, fetched from the
// database, with no shared volume (DESIGN §4).
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";

const AUTHORING_ENTRY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../authoring/index.ts");

export interface BundledFile {
  fileloc: string;
  source: string;
  bundle: string;
  /** Hash of the bundled code: the identity of this code everywhere (cache file, dag_code row). */
  codeHash: string;
  /** Absolute paths of every local file bundled in: a change to any of them re-parses this file. */
  inputs: string[];
}

export class BundleError extends Error {
  constructor(
    message: string,
    readonly line: number | null,
  ) {
    super(message);
  }
}

export async function bundleDagFile(fileloc: string): Promise<BundledFile> {
  const source = await fs.readFile(fileloc, "utf8");
  let result: esbuild.BuildResult<{ write: false }>;
  try {
    result = await esbuild.build({
      entryPoints: [fileloc],
      bundle: true,
      write: false,
      format: "esm",
      platform: "node",
      target: "node20",
      sourcemap: "inline",
      sourcesContent: false,
      logLevel: "silent",
      metafile: true,
      alias: { updraft: AUTHORING_ENTRY },
      // CommonJS dependencies bundled into an ES module still call require().
      banner: { js: "import { createRequire as __updraftRequire } from 'node:module'; const require = __updraftRequire(import.meta.url);" },
    });
  } catch (err) {
    const first = (err as esbuild.BuildFailure).errors?.[0];
    if (!first) throw err;
    const loc = first.location;
    const where = loc ? `${path.resolve(loc.file) === path.resolve(fileloc) ? fileloc : loc.file}:${loc.line}:${loc.column + 1}: ` : "";
    throw new BundleError(`${where}${first.text}`, loc?.line ?? null);
  }
  const bundle = result.outputFiles[0]!.text;
  const inputs = Object.keys(result.metafile?.inputs ?? {})
    .filter((p) => !p.includes("node_modules"))
    .map((p) => path.resolve(p));
  return { fileloc, source, bundle, codeHash: createHash("sha256").update(bundle).digest("hex").slice(0, 32), inputs };
}
