// A DAG file becomes one self-contained ES module (esbuild): its relative imports and `updraft`
// are bundled in, so a worker runs exactly the code of the version it was given, fetched from the
// database, with no shared volume (DESIGN §4).
import { createHash } from "node:crypto";
import fs from "node:fs/promises";
import path from "node:path";
import { fileURLToPath } from "node:url";
import * as esbuild from "esbuild";
import { DAG_FILE_MAX_BYTES_DEFAULT } from "../config.js";

const AUTHORING_ENTRY = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../authoring/index.ts");

/**
 * Packages with native bindings (a `.node` file chosen at run time per platform) cannot be inlined:
 * esbuild fails on their `require("…/duckdb.node")`. They stay external, rewritten to the absolute
 * path of their entry on the bundling machine, because a bundle is imported from the cache
 * directory (`$UPDRAFT_HOME/cache/bundles`, anywhere on disk) where a bare specifier would not
 * resolve. Workers therefore need the same install path (true of one image or one checkout).
 */
const NATIVE_PACKAGES = ["@duckdb/node-api"];
const nativeExternals: esbuild.Plugin = {
  name: "native-externals",
  setup(build) {
    const filter = new RegExp(`^(${NATIVE_PACKAGES.map((p) => p.replace(/[/.]/g, "\\$&")).join("|")})$`);
    build.onResolve({ filter }, async (args) => {
      if (args.pluginData?.native) return undefined; // our own build.resolve below
      const resolved = await build.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir, pluginData: { native: true } });
      if (resolved.errors.length) return { errors: resolved.errors };
      return { path: resolved.path, external: true };
    });
  },
};

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

const BUILD_OPTIONS = {
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
  plugins: [nativeExternals],
  // CommonJS dependencies bundled into an ES module still call require().
  banner: { js: "import { createRequire as __updraftRequire } from 'node:module'; const require = __updraftRequire(import.meta.url);" },
} satisfies esbuild.BuildOptions;

export interface BundleOptions {
  /** A DAG file larger than this is refused before esbuild reads it (UPDRAFT_DAG_FILE_MAX_BYTES). */
  maxFileBytes?: number;
}

function sizeText(bytes: number): string {
  const [value, unit] = bytes >= 1024 * 1024 ? [bytes / (1024 * 1024), "MB"] : bytes >= 1024 ? [bytes / 1024, "KB"] : [bytes, "bytes"];
  return `${Number(value.toFixed(1))} ${unit}`;
}

/** The refusal of a DAG file over the size limit, or null; from the file's size alone, never its contents. */
export async function oversizeError(fileloc: string, maxBytes = DAG_FILE_MAX_BYTES_DEFAULT): Promise<BundleError | null> {
  const { size } = await fs.stat(fileloc);
  if (size <= maxBytes) return null;
  return new BundleError(`${fileloc}:1: the file is ${sizeText(size)} (${size} bytes), over the DAG file size limit of ${sizeText(maxBytes)} (UPDRAFT_DAG_FILE_MAX_BYTES): not bundled or imported`, 1);
}

const localInputs = (inputs: Iterable<string>) => [...inputs].filter((p) => !p.includes("node_modules")).map((p) => path.resolve(p));
const hashOf = (bundle: string) => createHash("sha256").update(bundle).digest("hex").slice(0, 32);

export async function bundleDagFile(fileloc: string, options: BundleOptions = {}): Promise<BundledFile> {
  const oversize = await oversizeError(fileloc, options.maxFileBytes);
  if (oversize) throw oversize;
  const source = await fs.readFile(fileloc, "utf8");
  let result: esbuild.BuildResult<{ write: false }>;
  try {
    result = await esbuild.build({ ...BUILD_OPTIONS, entryPoints: [fileloc] });
  } catch (err) {
    const first = (err as esbuild.BuildFailure).errors?.[0];
    if (!first) throw err;
    const loc = first.location;
    const where = loc ? `${path.resolve(loc.file) === path.resolve(fileloc) ? fileloc : loc.file}:${loc.line}:${loc.column + 1}: ` : "";
    throw new BundleError(`${where}${first.text}`, loc?.line ?? null);
  }
  const bundle = result.outputFiles[0]!.text;
  return { fileloc, source, bundle, codeHash: hashOf(bundle), inputs: localInputs(Object.keys(result.metafile?.inputs ?? {})) };
}

/**
 * Bundles many DAG files at once: one esbuild build per directory, with every file of it as an
 * entry point, parses the modules they share (`updraft` and its dependencies) once instead of once
 * per file — about 4× less work per file than one build each. Each output is exactly what
 * `bundleDagFile` makes of that file (same code hash, so a file re-bundled alone later is not a
 * new version): the outputs are placed, as a single build places its one output, in the working
 * directory, so the source map's paths come out the same. A build with an error in any of its files
 * fails as a whole; its files are then bundled one by one, so each gets its own result or error.
 */
export async function bundleDagFiles(filelocs: string[], options: BundleOptions = {}): Promise<Map<string, BundledFile | BundleError>> {
  const out = new Map<string, BundledFile | BundleError>();
  // Oversized files never join a build: esbuild would read them whole.
  const oversize = await Promise.all(filelocs.map((f) => oversizeError(f, options.maxFileBytes).catch(() => null)));
  oversize.forEach((err, i) => err && out.set(filelocs[i]!, err));
  const byDir = new Map<string, string[]>();
  for (const f of filelocs.filter((f) => !out.has(f))) byDir.set(path.dirname(f), [...(byDir.get(path.dirname(f)) ?? []), f]);
  const one = async (f: string) => {
    try {
      out.set(f, await bundleDagFile(f, options));
    } catch (err) {
      out.set(f, err instanceof BundleError ? err : new BundleError((err as Error).message, null));
    }
  };
  for (const [dir, inDir] of byDir) {
    let files = inDir;
    if (files.length === 1) {
      await one(files[0]!);
      continue;
    }
    let result: esbuild.BuildResult<{ write: false }> | null = null;
    for (let attempt = 0; attempt < 2 && !result && files.length; attempt++) {
      try {
        // The output names never reach the disk (write: false); the extension only keeps them
        // from naming an input file (a .js DAG file in the working directory).
        result = await esbuild.build({ ...BUILD_OPTIONS, entryPoints: files, outdir: process.cwd(), outbase: dir, outExtension: { ".js": ".updraft-bundle.mjs" } });
      } catch (err) {
        // Errors in DAG files themselves: those files alone, the others built together again.
        const failed = new Set(((err as esbuild.BuildFailure).errors ?? []).map((e) => (e.location ? path.resolve(e.location.file) : "")));
        const bad = files.filter((f) => failed.has(f));
        if (attempt > 0 || !bad.length || bad.length !== failed.size) break;
        await Promise.all(bad.map(one));
        files = files.filter((f) => !failed.has(f));
      }
    }
    if (!result) {
      await Promise.all(files.map(one));
      continue;
    }
    const sources = await Promise.all(files.map((f) => fs.readFile(f, "utf8")));
    const sourceOf = new Map(files.map((f, i) => [f, sources[i]!]));
    for (const output of result.outputFiles) {
      const meta = result.metafile?.outputs[path.relative(process.cwd(), output.path)];
      const fileloc = meta?.entryPoint ? path.resolve(meta.entryPoint) : undefined;
      if (!meta || !fileloc || !sourceOf.has(fileloc)) continue;
      out.set(fileloc, { fileloc, source: sourceOf.get(fileloc)!, bundle: output.text, codeHash: hashOf(output.text), inputs: localInputs(Object.keys(meta.inputs)) });
    }
    // Not expected, but a file whose output could not be matched is bundled on its own.
    await Promise.all(files.filter((f) => !out.has(f)).map(one));
  }
  return out;
}
