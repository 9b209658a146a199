// V8 settings for the long-running processes, set here since they are started as `node
// bin/updraft.js …`, with no flags on the command line; imported first by bin/updraft.js, so that
// they are in place before the CLI loads. Only flags that V8 reads after start-up can be set so
// (the young generation's maximum, --max-semi-space-size, cannot: set at run time it changed
// nothing measurable).
//
// WebAssembly stays in V8's baseline compiler (Liftoff). PGlite's 10 MB module otherwise has its
// hot functions recompiled by TurboFan, which took about 70 MB: an idle `updraft start` (PGlite,
// example DAGs with their schedules removed; issue 9) went from 280 to 210 MB main process RSS. A
// PGlite query loop (3,000 indexed selects and updates) ran faster so, 4.5–4.9 s → 3.4–3.8 s, as
// the recompilation no longer competes for the CPU. Only WebAssembly compiled later is affected
// (PGlite's; DuckDB and esbuild are native). A flag given on the command line or in NODE_OPTIONS
// wins.
import v8 from "node:v8";

const nodeFlags = `${process.execArgv.join(" ")} ${process.env.NODE_OPTIONS ?? ""}`;
if (!/liftoff|wasm-tier/.test(nodeFlags)) v8.setFlagsFromString("--liftoff-only");
