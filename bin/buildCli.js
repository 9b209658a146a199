// The CLI's sources (bin/cli.ts and everything it imports) built into plain JavaScript with esbuild,
// so that `updraft` runs on plain node. Through tsx, every process carried tsx's module hooks: a
// thread of their own with their own V8 heap (58 MB heap measured in an idle `updraft start`) and
// an esbuild service process. The build is split (esbuild `splitting`): what the CLI imports lazily
// (the web server, the commands) stays lazy. npm packages stay imports (`packages: "external"`),
// resolved from the output under node_modules/.cache, as from the sources.
//
// `import.meta.url` is replaced, file by file, with the URL of the source file it appears in, so
// that paths next to a source (migrations/, web/ui/dist, runnerChild.ts, authoring/index.ts) are
// found as they are when running from the sources. The build is redone only when one of its input
// files changed (size or modification time, recorded in a manifest).
import { createHash } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");
const ENTRY = path.join(REPO, "bin", "cli.ts");

function cacheRoot() {
  return path.join(REPO, "node_modules", ".cache", "updraft");
}

/** What changes when an input file changes: its path, size and modification time. */
function fingerprint(inputs) {
  const hash = createHash("sha256");
  for (const file of inputs) {
    const st = fs.statSync(path.join(REPO, file));
    hash.update(`${file}\0${st.size}\0${st.mtimeMs}\n`);
  }
  return hash.digest("hex");
}

/** The built entry from an earlier build, when none of its inputs changed since; else null. */
function upToDate(manifestFile) {
  try {
    const manifest = JSON.parse(fs.readFileSync(manifestFile, "utf8"));
    const entry = path.join(cacheRoot(), manifest.dir, "cli.mjs");
    if (!fs.existsSync(entry) || fingerprint(manifest.inputs) !== manifest.fingerprint) return null;
    return entry;
  } catch {
    return null; // no manifest, or an input is gone: build
  }
}

/** Writes `text` to `file` through a temporary name: a process starting meanwhile never reads half a file. */
function writeAtomic(file, text) {
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, text);
  fs.renameSync(tmp, file);
}

/** The built CLI entry (a file path), built now when missing or stale. Throws when it cannot be built. */
export async function builtCli() {
  const manifestFile = path.join(cacheRoot(), "cli-manifest.json");
  const fresh = upToDate(manifestFile);
  if (fresh) return fresh;
  const esbuild = await import("esbuild");
  const sourceUrl = {
    name: "updraft-import-meta-url",
    setup(build) {
      build.onLoad({ filter: /\.ts$/ }, async (args) => {
        if (args.path.includes(`${path.sep}node_modules${path.sep}`)) return undefined;
        const text = await fs.promises.readFile(args.path, "utf8");
        if (!text.includes("import.meta")) return undefined;
        // Replaced in the syntax tree (esbuild's define), never inside a string; the inline map
        // carries the original lines through to the bundle's map.
        const js = await esbuild.transform(text, {
          loader: "ts",
          format: "esm",
          sourcefile: args.path,
          sourcemap: "inline",
          define: { "import.meta.url": JSON.stringify(pathToFileURL(args.path).href) },
        });
        return { contents: js.code, loader: "js" };
      });
    },
  };
  const staging = path.join(cacheRoot(), `cli-build-${process.pid}`);
  const result = await esbuild.build({
    entryPoints: [ENTRY],
    // Input paths in the metafile (the manifest) are relative to the repository, whatever the cwd.
    absWorkingDir: REPO,
    bundle: true,
    splitting: true,
    packages: "external",
    format: "esm",
    platform: "node",
    target: "node20",
    outdir: staging,
    outExtension: { ".js": ".mjs" },
    entryNames: "cli",
    sourcemap: "linked",
    sourcesContent: false,
    write: false,
    metafile: true,
    logLevel: "silent",
    plugins: [sourceUrl],
  });
  const hash = createHash("sha256");
  for (const f of result.outputFiles) hash.update(path.relative(staging, f.path)).update(f.contents);
  const dir = `cli-${hash.digest("hex").slice(0, 16)}`;
  const target = path.join(cacheRoot(), dir);
  // The directory is named by its contents: an existing one is this build, complete (renamed whole).
  if (!fs.existsSync(path.join(target, "cli.mjs"))) {
    fs.rmSync(staging, { recursive: true, force: true });
    for (const f of result.outputFiles) {
      fs.mkdirSync(path.dirname(f.path), { recursive: true });
      fs.writeFileSync(f.path, f.contents);
    }
    try {
      fs.renameSync(staging, target);
    } catch (err) {
      fs.rmSync(staging, { recursive: true, force: true });
      // Another process renamed the same build into place first.
      if (!fs.existsSync(path.join(target, "cli.mjs"))) throw err;
    }
  }
  const inputs = Object.keys(result.metafile.inputs).filter((f) => !f.includes("node_modules/"));
  writeAtomic(manifestFile, JSON.stringify({ dir, inputs, fingerprint: fingerprint(inputs) }));
  return path.join(target, "cli.mjs");
}
