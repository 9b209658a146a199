// `npm run bench [-- <scenario…>] [--quick]`: runs the selected scenarios (all by default), prints
// one markdown table — our figure, the peer's from the same run, the ratio, the target — and
// writes it to bench/results/latest.md (raw samples to latest.json, gitignored). `--quick` is the
// short form of every scenario for CI: it fails only when a scenario errors, never on timing,
// and writes latest-quick.md so that it does not replace the full figures.
//
// A new scenario is a module exporting a `Scenario` (bench/lib/types.ts), added to SCENARIOS.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openBenchDatabases } from "./lib/databases.js";
import { renderTable } from "./lib/table.js";
import type { BenchContext, Row, Scenario } from "./lib/types.js";
import { chain } from "./scenarios/chain.js";
import { api } from "./scenarios/api.js";
import { live } from "./scenarios/live.js";
import { memory } from "./scenarios/memory.js";
import { grid } from "./scenarios/grid.js";
import { throughput } from "./scenarios/throughput.js";
import { scaling } from "./scenarios/scaling.js";
import { parse } from "./scenarios/parse.js";

const SCENARIOS: Scenario[] = [chain, throughput, scaling, parse, api, grid, live, memory];

const RESULTS = path.join(path.dirname(fileURLToPath(import.meta.url)), "results");

function usage(): string {
  return `usage: npm run bench -- [--quick] [${SCENARIOS.map((s) => s.name).join("|")}…]\n${SCENARIOS.map((s) => `  ${s.name.padEnd(12)} ${s.title}`).join("\n")}`;
}

async function main(): Promise<number> {
  const args = process.argv.slice(2);
  if (args.includes("--help") || args.includes("-h")) {
    console.log(usage());
    return 0;
  }
  const quick = args.includes("--quick");
  const names = args.filter((a) => !a.startsWith("--"));
  const unknown = names.filter((n) => !SCENARIOS.some((s) => s.name === n));
  if (unknown.length || args.some((a) => a.startsWith("--") && a !== "--quick")) {
    console.error(`unknown argument(s): ${[...unknown, ...args.filter((a) => a.startsWith("--") && a !== "--quick")].join(" ")}\n${usage()}`);
    return 2;
  }
  const selected = names.length ? SCENARIOS.filter((s) => names.includes(s.name)) : SCENARIOS;

  const started = Date.now();
  const loadAtStart = os.loadavg();
  const log = (message: string) => process.stderr.write(`[bench ${((Date.now() - started) / 1000).toFixed(1)}s] ${message}\n`);
  const databases = await openBenchDatabases();
  const ctx: BenchContext = { quick, databases, log };

  const rows: Row[] = [];
  const notes: string[] = [];
  const raw: Record<string, unknown> = {};
  const errors: string[] = [];
  const cpu = os.cpus()[0]?.model.trim() ?? "unknown CPU";
  const machine = (loadStart: number[]) =>
    `${os.cpus().length} cores (${cpu}), ${os.platform()} ${os.arch()}, Node ${process.version}, ` +
    `PostgreSQL ${databases.postgres?.version ?? "not available"}, PGlite in memory; ` +
    `load average at start ${loadStart.map((l) => l.toFixed(2)).join(" ")}, at end ${os.loadavg().map((l) => l.toFixed(2)).join(" ")} — ${new Date().toISOString()}`;
  fs.mkdirSync(RESULTS, { recursive: true });
  for (const scenario of selected) {
    log(`${scenario.name}: ${scenario.title}${quick ? " (quick)" : ""}`);
    const scenarioLoad = os.loadavg();
    try {
      const result = await scenario.run(ctx);
      rows.push(...result.rows);
      notes.push(...result.notes.map((n) => `- ${n}`));
      raw[scenario.name] = result.raw ?? null;
      // The full form also keeps each scenario's latest figures in a file of its own, so that
      // running one scenario never drops another's figures (README links these files).
      if (!quick) {
        const section = `## ${scenario.name} — ${scenario.title}\n\n${machine(scenarioLoad)}\n\n${renderTable(result.rows)}\n\n${result.notes.map((n) => `- ${n}`).join("\n")}\n`;
        fs.writeFileSync(path.join(RESULTS, `${scenario.name}.md`), section);
      }
    } catch (err) {
      const message = (err as Error).stack ?? String(err);
      errors.push(`${scenario.name}: ${message}`);
      log(`${scenario.name} FAILED: ${message}`);
      notes.push(`- **${scenario.name} failed:** ${String((err as Error).message ?? err).split("\n")[0]}`);
    }
  }

  const header = [`## Updraft benchmarks${quick ? " (quick form)" : ""}`, "", machine(loadAtStart)].join("\n");
  const markdown = `${header}\n\n${renderTable(rows)}\n\n${notes.join("\n")}\n`;
  console.log(markdown);

  // This run's table goes to latest-quick.md (quick form) or latest-partial.md; latest.md gathers
  // the latest full-form file of every scenario (each with its own machine line and date), so a
  // run of some scenarios never drops the others' figures.
  const base = quick ? "latest-quick" : "latest-partial";
  if (!quick) {
    const sections = SCENARIOS.map((sc) => path.join(RESULTS, `${sc.name}.md`)).filter((f) => fs.existsSync(f)).map((f) => fs.readFileSync(f, "utf8"));
    fs.writeFileSync(path.join(RESULTS, "latest.md"), `# Updraft benchmarks: the latest full-form figures of each scenario\n\n${sections.join("\n")}`);
  }
  fs.writeFileSync(path.join(RESULTS, `${base}.md`), markdown);
  fs.writeFileSync(
    path.join(RESULTS, `${base}.json`),
    JSON.stringify({ at: new Date().toISOString(), quick, cores: os.cpus().length, cpu, node: process.version, postgres: databases.postgres?.version ?? null, rows, raw, errors }, null, 2),
  );
  log(`wrote ${path.relative(process.cwd(), path.join(RESULTS, `${base}.md`))}`);
  return errors.length ? 1 : 0;
}

main().then(
  (code) => {
    process.exitCode = code;
    // Everything was stopped; if something still holds the process open, say what and leave.
    setTimeout(() => {
      process.stderr.write(`bench: still running 15 s after the end; open resources: ${process.getActiveResourcesInfo().join(", ")}\n`);
      process.exit(code || 1);
    }, 15_000).unref();
  },
  (err) => {
    console.error(err);
    process.exit(1);
  },
);
