#!/usr/bin/env -S MALLOC_ARENA_MAX=2 MALLOC_TRIM_THRESHOLD_=131072 MALLOC_MMAP_THRESHOLD_=131072 node --max-semi-space-size=4
// The `updraft` command: the CLI (bin/cli.ts), run from its JavaScript build (buildCli.js) so that
// the process carries no TypeScript loader. Should the build fail (a read-only install, an
// esbuild error), or with UPDRAFT_RUN_SOURCES=1, the TypeScript sources run through tsx instead.
// First: V8 settings that must be in place before the CLI loads (v8Flags.js).
import "./v8Flags.js";
import { builtCli } from "./buildCli.js";

let built = null;
if (process.env.UPDRAFT_RUN_SOURCES !== "1") {
  try {
    built = await builtCli();
  } catch (err) {
    process.emitWarning(`updraft: running the TypeScript sources through tsx (the build failed: ${err?.message ?? err})`);
  }
}
if (built) {
  // Stack traces point at the TypeScript sources, as they do through tsx.
  process.setSourceMapsEnabled(true);
  await import(built);
} else {
  const { register } = await import("tsx/esm/api");
  register();
  await import("./cli.ts");
}
