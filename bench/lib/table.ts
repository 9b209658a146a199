// Renders rows as one markdown table: our figure, the peer's, ours / peer's, and each target
// with ✅ or ❌ — computed here from the measured values, never typed in.
import type { Measure, Row, Target, Unit } from "./types.js";

function num(value: number, unit: Unit): string {
  const digits = unit === "ms" ? (Math.abs(value) < 10 ? 2 : 1) : Math.abs(value) < 10 ? 2 : 0;
  return value.toFixed(digits);
}

function measure(m: Measure): string {
  const unit = m.unit === "/s" ? "/s" : ` ${m.unit}`;
  const parts = [`**${num(m.value, m.unit)}${unit}** ${m.stat}`];
  const extra: string[] = [];
  if (m.spread) extra.push(`${m.spread.label} ${num(m.spread.low, m.unit)}–${num(m.spread.high, m.unit)}`);
  if (m.samples !== undefined) extra.push(`n=${m.samples}`);
  if (extra.length) parts.push(`(${extra.join(", ")})`);
  return parts.join(" ");
}

export function ratioOf(row: Row): number | null {
  return row.peer && row.peer.value !== 0 ? row.ours.value / row.peer.value : null;
}

function target(t: Target, row: Row): string {
  const ratio = ratioOf(row);
  switch (t.kind) {
    case "max":
      return `≤ ${t.value} ${t.unit} ${row.ours.value <= t.value ? "✅" : "❌"}`;
    case "min":
      return `≥ ${t.value} ${t.unit} ${row.ours.value >= t.value ? "✅" : "❌"}`;
    case "ratioMax":
      return `ratio ≤ ${t.value.toFixed(1)} ${ratio === null ? "?" : ratio <= t.value ? "✅" : "❌"}`;
    case "ratioMin":
      return `ratio ≥ ${t.value.toFixed(1)} ${ratio === null ? "?" : ratio >= t.value ? "✅" : "❌"}`;
  }
}

/** True/false when the row has targets, null when it has none. */
export function targetsMet(row: Row): boolean | null {
  if (!row.targets?.length) return null;
  return row.targets.every((t) => target(t, row).endsWith("✅"));
}

export function renderTable(rows: Row[]): string {
  const lines = ["| scenario | database | our figure | peer figure | ratio | target |", "|---|---|---|---|---|---|"];
  for (const row of rows) {
    const ratio = ratioOf(row);
    lines.push(
      `| ${row.scenario} | ${row.database} | ${measure(row.ours)} | ${row.peer ? `${row.peer.name}: ${measure(row.peer)}` : "—"} | ${ratio === null ? "—" : `${ratio.toFixed(2)}×`} | ${row.targets?.length ? row.targets.map((t) => target(t, row)).join("; ") : "—"} |`,
    );
  }
  return lines.join("\n");
}
