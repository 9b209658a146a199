// The contract between the harness (bench/index.ts) and its scenarios. A scenario measures, and
// returns rows; the harness renders them (ratios, targets, spreads) — so no figure is ever typed
// by hand and every scenario prints the same way.
import type { BenchDatabases } from "./databases.js";

export type Unit = "ms" | "µs" | "s" | "/s" | "MB";

/** One measured figure: a central value and, where repeated, its spread. */
export interface Measure {
  value: number;
  unit: Unit;
  /** What `value` is: "median", "p50", "p99", "mean"… */
  stat: string;
  spread?: { label: string; low: number; high: number };
  /** Number of samples behind the figure. */
  samples?: number;
}

/** A target, checked by the harness (never failing the run): on our figure or on ours / peer's. */
export type Target =
  | { kind: "max" | "min"; value: number; unit: Unit }
  | { kind: "ratioMax" | "ratioMin"; value: number };

export interface Row {
  scenario: string;
  database: "PGlite" | "PostgreSQL" | "—";
  ours: Measure;
  peer?: Measure & { name: string };
  targets?: Target[];
}

export interface BenchContext {
  /** The short form (CI): fewer repetitions, same code paths. */
  quick: boolean;
  databases: BenchDatabases;
  /** Progress lines, to stderr, so that stdout stays one markdown table. */
  log(message: string): void;
}

export interface ScenarioResult {
  rows: Row[];
  /** Lines printed under the table: how the figures were taken. */
  notes: string[];
  /** Raw samples, kept in bench/results/latest.json (gitignored). */
  raw?: Record<string, unknown>;
}

export interface Scenario {
  name: string;
  title: string;
  run(ctx: BenchContext): Promise<ScenarioResult>;
}
