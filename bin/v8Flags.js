// V8 settings for the long-running processes, set here since they are started as `node
// bin/updraft.js …`, with no flags on the command line; imported first by bin/updraft.js, so that
// they are in place before the CLI loads. Only flags that V8 reads after start-up can be set so.
//
// Two settings are read when the process starts, so they are given where `updraft` is started: in
// bin/updraft.js's shebang (`env -S`: the installed `updraft` command), package.json's `start` and
// `updraft` scripts, and the Dockerfile (test/unit/nodeFlags.test.ts keeps them alike):
// - `--max-semi-space-size=4` (MB), read when V8 makes the heap (set here, it changed nothing): at
//   V8's default of 16 MB a busy `updraft start` held 32 MB of young generation, at 4 MB it holds 8.
// - glibc malloc's settings, read at start: `MALLOC_ARENA_MAX=2` (the native heap otherwise grows
//   an arena per thread that allocates — V8's GC and compiler threads, libuv's pool — each kept
//   half empty), and `MALLOC_TRIM_THRESHOLD_` and `MALLOC_MMAP_THRESHOLD_` at 128 KB (their
//   defaults rise with the largest block freed, after which freed memory stays in the process).
// Measured on a first `updraft start` with the example DAGs (PGlite, main process RSS, 15 samples
// 25–40 s after spawn; bench/results/memory.md has the benchmark's own figure): neither 253–279 MB;
// the semi-space 219–237 MB; with the arenas too 213–222 MB; with `start`'s --optimize-for-size
// (bin/cli.ts) 195–205 MB; with the two thresholds 183–197 MB (vs 193–204, alternating). CPU time
// over the same 40 s was the same within the noise.
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
