// The Seattle weather pipeline's data steps (dags/weather_etl.ts, dags/weather_model.ts): read the
// day's rows of vega-datasets' seattle-weather.csv, validate them, derive features, and write or
// read the lake's `weather/date=YYYY-MM-DD/` Parquet partitions and the monthly warehouse table.
import fs from "node:fs";
import path from "node:path";
import { lakePath, packageFile, replaceDirectory, sqlPath, withDuckDb } from "./lake.js";

export const WEATHER_TYPES = ["drizzle", "fog", "rain", "snow", "sun"] as const;
export type WeatherType = (typeof WEATHER_TYPES)[number];

/** A CSV row as read: strings, with its line number in the file (for error messages). */
export interface RawRow {
  line: number;
  date: string;
  precipitation: string;
  temp_max: string;
  temp_min: string;
  wind: string;
  weather: string;
}

export interface DayRow {
  date: string;
  precipitation: number;
  temp_max: number;
  temp_min: number;
  wind: number;
  weather: WeatherType;
}

export interface FeatureRow extends DayRow {
  temp_range: number;
  temp_mean: number;
  /** Precipitation of the 7 days ending this day (fewer at the start of the data). */
  precip_7d: number;
  month: number;
}

/** The features a weather-type classifier reads, in order (the model artifact's feature schema). */
export const FEATURES = ["precipitation", "temp_max", "temp_min", "wind", "temp_range", "precip_7d", "month"] as const;

const COLUMNS = ["date", "precipitation", "temp_max", "temp_min", "wind", "weather"] as const;
/** Rolling precipitation window, in days (this one included). */
export const ROLLING_DAYS = 7;

/**
 * The source CSV: UPDRAFT_WEATHER_CSV when set (a test feeds a corrupted copy this way; an
 * environment variable rather than a param, so that a trigger's conf cannot point a task at an
 * arbitrary file), else the file shipped in the vega-datasets package.
 */
export function weatherCsvPath(): string {
  return process.env.UPDRAFT_WEATHER_CSV || packageFile("vega-datasets", "data", "seattle-weather.csv");
}

const csvCache = new Map<string, RawRow[]>();

/** All rows of the CSV (cached per runner process: a catchup reads the same 1,461 lines per day). */
export function readWeatherCsv(file = weatherCsvPath()): RawRow[] {
  const cached = csvCache.get(file);
  if (cached) return cached;
  const lines = fs.readFileSync(file, "utf8").split(/\r?\n/);
  const header = lines[0]?.split(",").map((h) => h.trim());
  if (!header || COLUMNS.some((c, i) => header[i] !== c)) {
    throw new Error(`${file}: header is ${JSON.stringify(lines[0])}, expected ${COLUMNS.join(",")}`);
  }
  // A plain split is enough: this file has no quoted fields (checked by the column count in validate).
  const rows = lines.slice(1).flatMap((text, i) => {
    if (!text.trim()) return [];
    const cells = text.split(",");
    const row: RawRow = { line: i + 2, date: cells[0] ?? "", precipitation: cells[1] ?? "", temp_max: cells[2] ?? "", temp_min: cells[3] ?? "", wind: cells[4] ?? "", weather: cells.slice(5).join(",") };
    return [row];
  });
  csvCache.set(file, rows);
  return rows;
}

export const addDays = (ds: string, days: number) => new Date(Date.parse(`${ds}T00:00:00Z`) + days * 86_400_000).toISOString().slice(0, 10);

/** The day's rows, and the rows of the days before it that the rolling features need. */
export function extractDay(ds: string, file = weatherCsvPath()): { day: RawRow[]; history: RawRow[] } {
  const from = addDays(ds, -(ROLLING_DAYS - 1));
  const rows = readWeatherCsv(file);
  return { day: rows.filter((r) => r.date === ds), history: rows.filter((r) => r.date >= from && r.date < ds) };
}

const RANGES: Record<"precipitation" | "temp_max" | "temp_min" | "wind", [number, number]> = {
  // Seattle's records, with slack: rain ≤ 150 mm/day, −30…45 °C, wind ≤ 40 m/s.
  precipitation: [0, 150],
  temp_max: [-30, 45],
  temp_min: [-30, 45],
  wind: [0, 40],
};

export class RowValidationError extends Error {}

/** One row against the schema and ranges; throws naming the line, the row and the field. */
export function validateRow(row: RawRow): DayRow {
  const where = `line ${row.line} (${JSON.stringify(`${row.date},${row.precipitation},${row.temp_max},${row.temp_min},${row.wind},${row.weather}`)})`;
  const fail = (field: string, why: string) => {
    throw new RowValidationError(`invalid row at ${where}: ${field} ${why}`);
  };
  if (!/^\d{4}-\d{2}-\d{2}$/.test(row.date) || Number.isNaN(Date.parse(`${row.date}T00:00:00Z`))) fail("date", `is not a YYYY-MM-DD date: ${JSON.stringify(row.date)}`);
  const numbers = {} as Record<keyof typeof RANGES, number>;
  for (const field of Object.keys(RANGES) as (keyof typeof RANGES)[]) {
    const text = row[field].trim();
    const value = Number(text);
    if (text === "" || !Number.isFinite(value)) fail(field, `is not a number: ${JSON.stringify(row[field])}`);
    const [min, max] = RANGES[field];
    if (value < min || value > max) fail(field, `${value} is outside [${min}, ${max}]`);
    numbers[field] = value;
  }
  if (numbers.temp_min > numbers.temp_max) fail("temp_min", `${numbers.temp_min} is above temp_max ${numbers.temp_max}`);
  if (!(WEATHER_TYPES as readonly string[]).includes(row.weather)) fail("weather", `is ${JSON.stringify(row.weather)}, expected one of ${WEATHER_TYPES.join(", ")}`);
  return { date: row.date, ...numbers, weather: row.weather as WeatherType };
}

/** The day's rows must exist, be valid and be of that day. History rows that are invalid are left out of the rolling sums (their own day fails). */
export function validateDay(ds: string, extracted: { day: RawRow[]; history: RawRow[] }): { day: DayRow[]; history: DayRow[]; skippedHistory: string[] } {
  if (!extracted.day.length) throw new RowValidationError(`no row for ${ds} in the source data`);
  const day = extracted.day.map((r) => {
    const valid = validateRow(r);
    if (valid.date !== ds) throw new RowValidationError(`invalid row at line ${r.line}: date ${valid.date} is not the run's day ${ds}`);
    return valid;
  });
  const history: DayRow[] = [];
  const skippedHistory: string[] = [];
  for (const r of extracted.history) {
    try {
      history.push(validateRow(r));
    } catch (err) {
      skippedHistory.push((err as Error).message);
    }
  }
  return { day, history, skippedHistory };
}

const round = (v: number) => Math.round(v * 100) / 100;

export function transformDay(day: DayRow[], history: DayRow[]): FeatureRow[] {
  return day.map((row) => {
    const from = addDays(row.date, -(ROLLING_DAYS - 1));
    const window = [...history, row].filter((h) => h.date >= from && h.date <= row.date);
    return {
      ...row,
      temp_range: round(row.temp_max - row.temp_min),
      temp_mean: round((row.temp_max + row.temp_min) / 2),
      precip_7d: round(window.reduce((sum, h) => sum + h.precipitation, 0)),
      month: Number(row.date.slice(5, 7)),
    };
  });
}

export const partitionDir = (ds: string) => lakePath("weather", `date=${ds}`);
export const partitionGlob = () => lakePath("weather", "date=*", "*.parquet");

/** Writes (replacing) the day's Parquet partition with DuckDB; returns its path and row count. */
export async function writePartition(ds: string, rows: FeatureRow[]): Promise<{ path: string; rows: number }> {
  const target = partitionDir(ds);
  await replaceDirectory(target, async (tmp) => {
    await withDuckDb(async (conn) => {
      await conn.run(`CREATE TEMP TABLE day (date DATE, precipitation DOUBLE, temp_max DOUBLE, temp_min DOUBLE, wind DOUBLE, weather VARCHAR,
        temp_range DOUBLE, temp_mean DOUBLE, precip_7d DOUBLE, month INTEGER)`);
      for (const r of rows) {
        await conn.run(`INSERT INTO day VALUES ($1::DATE, $2, $3, $4, $5, $6, $7, $8, $9, $10)`, [
          r.date, r.precipitation, r.temp_max, r.temp_min, r.wind, r.weather, r.temp_range, r.temp_mean, r.precip_7d, r.month,
        ]);
      }
      await conn.run(`COPY day TO ${sqlPath(path.join(tmp, "part-0.parquet"))} (FORMAT parquet)`);
    });
  });
  return { path: target, rows: rows.length };
}

/** Rows of the lake between two days (inclusive), oldest first. */
export async function readLake(from: string | null, to: string | null): Promise<FeatureRow[]> {
  if (!fs.existsSync(lakePath("weather"))) return [];
  return withDuckDb(async (conn) => {
    const where = [from ? `date >= ${sqlPath(from)}::DATE` : null, to ? `date <= ${sqlPath(to)}::DATE` : null].filter(Boolean);
    const result = await conn.runAndReadAll(
      `SELECT strftime(date, '%Y-%m-%d') AS date, precipitation, temp_max, temp_min, wind, weather, temp_range, temp_mean, precip_7d, month
       FROM read_parquet(${sqlPath(partitionGlob())}, hive_partitioning = false)
       ${where.length ? `WHERE ${where.join(" AND ")}` : ""} ORDER BY date`,
    );
    return result.getRowObjectsJson() as unknown as FeatureRow[];
  }).catch((err: Error) => {
    // No partition yet matches the glob: an empty lake, not an error.
    if (/No files found/i.test(err.message)) return [];
    throw err;
  });
}

export const monthlyDir = (month: string) => lakePath("warehouse", "weather_monthly", `month=${month}`);

/**
 * Warehouse SQL over the lake (DuckDB standing in for BigQuery): the month's aggregates, stored
 * as a small Parquet table `warehouse/weather_monthly/month=YYYY-MM/`, replaced on each run.
 */
export async function buildMonthlyAggregate(month: string): Promise<Record<string, unknown>> {
  const files = lakePath("weather", `date=${month}-*`, "*.parquet");
  const target = monthlyDir(month);
  let summary: Record<string, unknown> = {};
  await replaceDirectory(target, async (tmp) => {
    await withDuckDb(async (conn) => {
      const query = `SELECT ${sqlPath(month)} AS month, count(*)::INTEGER AS days,
          round(sum(precipitation), 2) AS precipitation_total, round(avg(temp_max), 2) AS temp_max_avg,
          round(avg(temp_min), 2) AS temp_min_avg, max(temp_max) AS temp_max_max, min(temp_min) AS temp_min_min,
          round(avg(wind), 2) AS wind_avg, count(*) FILTER (WHERE weather = 'rain')::INTEGER AS rain_days,
          count(*) FILTER (WHERE weather = 'sun')::INTEGER AS sun_days, mode(weather) AS most_common_weather
        FROM read_parquet(${sqlPath(files)}, hive_partitioning = false)`;
      await conn.run(`COPY (${query}) TO ${sqlPath(path.join(tmp, "part-0.parquet"))} (FORMAT parquet)`);
      summary = (await conn.runAndReadAll(query)).getRowObjectsJson()[0] ?? {};
    });
  });
  return summary;
}
