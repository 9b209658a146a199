// Each scenario records its figures here; the suite's teardown (chaos/globalSetup.ts) turns them
// into the markdown table of chaos/results/latest.md (latest-quick.md for the short form).
import fs from "node:fs";
import path from "node:path";

export interface Figure {
  scenario: string;
  figure: string;
  value: string;
  goal: string;
  ok: boolean;
}

export const RESULTS_DIR = path.resolve(path.dirname(new URL(import.meta.url).pathname), "../results");

export function figuresFile(): string {
  return path.join(RESULTS_DIR, process.env.CHAOS_QUICK === "1" ? ".figures-quick.jsonl" : ".figures.jsonl");
}

/** Prints the figure and appends it to the run's figures file. */
export function recordFigure(f: Figure): void {
  console.log(`[chaos] ${f.scenario}: ${f.figure} = ${f.value} (goal ${f.goal}) ${f.ok ? "ok" : "MISSED"}`);
  fs.mkdirSync(RESULTS_DIR, { recursive: true });
  fs.appendFileSync(figuresFile(), `${JSON.stringify(f)}\n`);
}

export function figuresTable(figures: Figure[]): string {
  const rows = figures.map((f) => `| ${f.scenario} | ${f.figure} | ${f.value} | ${f.goal} | ${f.ok ? "✅" : "❌"} |`);
  return ["| scenario | figure | value | goal | |", "|---|---|---|---|---|", ...rows].join("\n");
}
