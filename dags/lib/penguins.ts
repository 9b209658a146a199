// The penguins pipeline's data steps (dags/penguins_model.ts): vega-datasets' penguins.json into
// the lake as one Parquet table, and a deterministic train/test split of it.
import fs from "node:fs";
import path from "node:path";
import { lakePath, packageFile, replaceDirectory, sqlPath, withDuckDb, writeJsonAtomic } from "./lake.js";

export const SPECIES = ["Adelie", "Chinstrap", "Gentoo"] as const;
export const PENGUIN_FEATURES = ["beak_length_mm", "beak_depth_mm", "flipper_length_mm", "body_mass_g"] as const;

export interface Penguin {
  species: string;
  island: string;
  beak_length_mm: number;
  beak_depth_mm: number;
  flipper_length_mm: number;
  body_mass_g: number;
}

const SOURCE_FIELDS: Record<(typeof PENGUIN_FEATURES)[number], string> = {
  beak_length_mm: "Beak Length (mm)",
  beak_depth_mm: "Beak Depth (mm)",
  flipper_length_mm: "Flipper Length (mm)",
  body_mass_g: "Body Mass (g)",
};

/** Rows with a known species and every measurement; the others (a few in the source) are counted as dropped. */
export function readPenguins(): { rows: Penguin[]; dropped: number } {
  const raw = JSON.parse(fs.readFileSync(packageFile("vega-datasets", "data", "penguins.json"), "utf8")) as Record<string, unknown>[];
  const rows: Penguin[] = [];
  for (const r of raw) {
    const values = PENGUIN_FEATURES.map((f) => r[SOURCE_FIELDS[f]]);
    if (!(SPECIES as readonly unknown[]).includes(r.Species) || !values.every((v) => typeof v === "number" && Number.isFinite(v))) continue;
    const [beak_length_mm, beak_depth_mm, flipper_length_mm, body_mass_g] = values as number[];
    rows.push({ species: String(r.Species), island: String(r.Island), beak_length_mm: beak_length_mm!, beak_depth_mm: beak_depth_mm!, flipper_length_mm: flipper_length_mm!, body_mass_g: body_mass_g! });
  }
  return { rows, dropped: raw.length - rows.length };
}

export const penguinsDir = () => lakePath("penguins");

/** The whole table, replaced on each run: `lake/penguins/part-0.parquet`. */
export async function writePenguins(rows: Penguin[]): Promise<string> {
  await replaceDirectory(penguinsDir(), async (tmp) => {
    // Through a JSON file: DuckDB reads it in one statement, typed by the CREATE below.
    const json = path.join(tmp, ".rows.json");
    writeJsonAtomic(json, rows);
    await withDuckDb(async (conn) => {
      await conn.run(`COPY (SELECT species::VARCHAR AS species, island::VARCHAR AS island, beak_length_mm::DOUBLE AS beak_length_mm,
          beak_depth_mm::DOUBLE AS beak_depth_mm, flipper_length_mm::DOUBLE AS flipper_length_mm, body_mass_g::DOUBLE AS body_mass_g
        FROM read_json(${sqlPath(json)}, format = 'array')) TO ${sqlPath(path.join(tmp, "part-0.parquet"))} (FORMAT parquet)`);
    });
    fs.rmSync(json);
  });
  return penguinsDir();
}

export async function readPenguinsLake(): Promise<Penguin[]> {
  return withDuckDb(async (conn) => {
    const result = await conn.runAndReadAll(`SELECT * FROM read_parquet(${sqlPath(path.join(penguinsDir(), "*.parquet"))})`);
    return result.getRowObjectsJson() as unknown as Penguin[];
  });
}

/**
 * A deterministic hold-out (every `1/fraction`-th row of each species, in file order): each mapped
 * training task computes the same split, so their scores compare.
 */
export function splitPenguins(rows: Penguin[], fraction: number): { train: Penguin[]; test: Penguin[] } {
  const every = Math.max(2, Math.round(1 / fraction));
  const seen = new Map<string, number>();
  const train: Penguin[] = [];
  const test: Penguin[] = [];
  for (const r of rows) {
    const n = (seen.get(r.species) ?? 0) + 1;
    seen.set(r.species, n);
    (n % every === 0 ? test : train).push(r);
  }
  return { train, test };
}
