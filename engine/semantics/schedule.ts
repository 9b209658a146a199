// Schedules and data intervals with Airflow 2 semantics (create_cron_data_intervals=True):
// the run for interval [start, end) is created at `end`; its logical date is `start`.
// Cron matching is croner's, never ours (CONVENTIONS: use the well-kept library); only the placement
// of wall-clock times around DST changes follows Airflow rather than croner (see cronPoints).
import { Cron } from "croner";
import type { Duration, Schedule } from "../authoring/types.js";
import { parseDuration } from "./duration.js";

export const PRESETS: Record<string, string> = {
  "@hourly": "0 * * * *",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@weekly": "0 0 * * 0",
  "@monthly": "0 0 1 * *",
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
};

export interface DataInterval {
  start: Date;
  end: Date;
}

/** A schedule turned into interval arithmetic. `null` schedules have no timetable (manual only). */
export interface Timetable {
  readonly summary: string;
  /** The interval starting at the first schedule point at or after `t`. */
  intervalStartingAtOrAfter(t: Date): DataInterval | null;
  /** The latest interval that has fully ended at `now`. */
  latestCompleteInterval(now: Date): DataInterval | null;
}

export interface SerializedSchedule {
  kind: "cron" | "every" | "once";
  /** Cron expression (presets expanded), or the period in ms for `every`. */
  expr: string;
  summary: string;
  timezone: string;
}

/** Validates a DAG's `schedule` at import, so a typo is an import error naming the field. */
export function serializeSchedule(schedule: Schedule | undefined, timezone = "UTC"): SerializedSchedule | null {
  assertTimezone(timezone);
  if (schedule === null || schedule === undefined) return null;
  if (typeof schedule === "object") {
    const ms = parseDuration((schedule as { every: Duration }).every, "schedule.every");
    if (ms <= 0) throw new Error(`schedule.every must be positive`);
    return { kind: "every", expr: String(ms), summary: `every ${(schedule as { every: Duration }).every}`, timezone };
  }
  if (typeof schedule !== "string") throw new Error(`schedule must be a cron string, a preset, { every } or null`);
  if (schedule === "@once") return { kind: "once", expr: "@once", summary: "@once", timezone };
  const expr = PRESETS[schedule] ?? schedule;
  if (expr.startsWith("@")) throw new Error(`schedule ${JSON.stringify(schedule)} is not a known preset (@once, @hourly, @daily, @weekly, @monthly, @yearly)`);
  try {
    new Cron(expr, { timezone, paused: true });
  } catch (err) {
    throw new Error(`schedule ${JSON.stringify(schedule)} is not a valid cron expression: ${(err as Error).message}`);
  }
  return { kind: "cron", expr, summary: schedule, timezone };
}

function assertTimezone(tz: string): void {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: tz });
  } catch {
    throw new Error(`timezone ${JSON.stringify(tz)} is not an IANA time zone name`);
  }
}

export function timetableFor(s: SerializedSchedule, anchor: Date | null): Timetable {
  if (s.kind === "cron") {
    const { next, prev } = cronPoints(s.expr, s.timezone);
    return {
      summary: s.summary,
      intervalStartingAtOrAfter(t) {
        const start = next(new Date(t.getTime() - 1));
        const end = start && next(start);
        return start && end ? { start, end } : null;
      },
      latestCompleteInterval(now) {
        const end = prev(new Date(now.getTime() + 1));
        const start = end && prev(end);
        return start && end ? { start, end } : null;
      },
    };
  }
  if (s.kind === "every") {
    const period = Number(s.expr);
    const origin = (anchor ?? new Date(0)).getTime();
    const align = (t: number) => origin + Math.ceil((t - origin) / period) * period;
    return {
      summary: s.summary,
      intervalStartingAtOrAfter(t) {
        const start = align(t.getTime());
        return { start: new Date(start), end: new Date(start + period) };
      },
      latestCompleteInterval(now) {
        const end = origin + Math.floor((now.getTime() - origin) / period) * period;
        return end - period < origin ? null : { start: new Date(end - period), end: new Date(end) };
      },
    };
  }
  // @once: a single zero-width interval at the DAG's start.
  return {
    summary: s.summary,
    intervalStartingAtOrAfter: (t) => (anchor && anchor.getTime() >= t.getTime() ? { start: anchor, end: anchor } : null),
    latestCompleteInterval: (now) => (anchor && anchor <= now ? { start: anchor, end: anchor } : null),
  };
}

export interface NextRunInput {
  schedule: SerializedSchedule;
  start: Date | null;
  end: Date | null;
  catchup: boolean;
  /** End of the latest scheduled run's interval, if any run was scheduled before. */
  lastIntervalEnd: Date | null;
  /** Whether a scheduled run exists at all (matters for @once). */
  hasScheduledRun: boolean;
  now: Date;
}

/**
 * The next interval to schedule, as Airflow's next_dagrun_info: after the last run's interval, or
 * from `start`; without catchup, never earlier than the latest complete interval; none past `end`.
 * The run is due at `interval.end` (its run_after).
 */
export function nextDataInterval(input: NextRunInput): DataInterval | null {
  const { schedule, start, end, catchup, lastIntervalEnd, now } = input;
  if (schedule.kind === "once") {
    if (input.hasScheduledRun || !start) return null;
    return end && start > end ? null : { start, end: start };
  }
  const timetable = timetableFor(schedule, start);
  const earliest = lastIntervalEnd ?? start ?? null;
  let next = earliest ? timetable.intervalStartingAtOrAfter(earliest) : null;
  if (!catchup || !next) {
    const latest = timetable.latestCompleteInterval(now);
    if (latest && (!start || latest.start >= start) && (!next || latest.start > next.start)) next = latest;
    if (!next && !earliest) next = timetable.intervalStartingAtOrAfter(now);
  }
  if (!next) return null;
  if (end && next.start > end) return null;
  return next;
}

/**
 * The schedule points of a cron expression in a time zone, with Airflow's DST rules (CronMixin):
 * - an expression that fires in every hour (hour field `*`) keeps its step in real time, so it
 *   fires in both passes of a repeated hour and skips the hour that does not exist — croner's
 *   interval-job behaviour, used as is;
 * - any other expression is matched on the wall clock, and a wall time is placed as Airflow's
 *   make_aware(fold=1) places it: a time that occurs twice (fall back) runs at its *second*
 *   occurrence, a time in a spring-forward gap is moved forward by the gap (02:30 → 03:30).
 *   croner would run the first occurrence and clamp gap times to the gap's end, so for these the
 *   wall-clock matching is croner's (in UTC, on wall times) and only the placement is ours.
 * `next(t)` is the first point strictly after t, `prev(t)` the last point strictly before t.
 */
export function cronPoints(expr: string, timezone: string): { next(t: Date): Date | null; prev(t: Date): Date | null } {
  if (timezone === "UTC" || timezone === "Etc/UTC" || firesEveryHour(expr)) {
    const zoned = new Cron(expr, { timezone, paused: true });
    return { next: (t) => zoned.nextRun(t), prev: (t) => zoned.previousRuns(1, t)[0] ?? null };
  }
  const wall = new Cron(expr, { timezone: "UTC", paused: true });
  // Placing a wall time can move it by up to a DST shift (≤ 2 h anywhere), so near a transition a
  // point labelled before t's wall time may fall after t, and the reverse: there, look at every
  // label within a window and take the nearest instant. Elsewhere the first label is the answer.
  const nearTransition = (t: Date) => offsetMs(t.getTime() - SHIFT_WINDOW_MS, timezone) !== offsetMs(t.getTime() + SHIFT_WINDOW_MS, timezone);
  return {
    next(t) {
      const wallT = toWallClock(t, timezone).getTime();
      if (!nearTransition(t)) {
        const w = wall.nextRun(new Date(wallT));
        return w && fromWallClock(w, timezone);
      }
      let best: { at: Date; label: number } | null = null;
      let w = wall.nextRun(new Date(wallT - SHIFT_WINDOW_MS));
      for (let i = 0; w && i < MAX_WINDOW_STEPS; i++, w = wall.nextRun(w)) {
        if (best && w.getTime() - best.label > SHIFT_WINDOW_MS) break;
        const at = fromWallClock(w, timezone);
        if (at > t && (!best || at < best.at)) best = { at, label: w.getTime() };
      }
      return best?.at ?? null;
    },
    prev(t) {
      const wallT = toWallClock(t, timezone).getTime();
      if (!nearTransition(t)) {
        const w = wall.previousRuns(1, new Date(wallT))[0];
        return w ? fromWallClock(w, timezone) : null;
      }
      let best: { at: Date; label: number } | null = null;
      let w = wall.previousRuns(1, new Date(wallT + SHIFT_WINDOW_MS))[0];
      for (let i = 0; w && i < MAX_WINDOW_STEPS; i++, w = wall.previousRuns(1, w)[0]) {
        if (best && best.label - w.getTime() > SHIFT_WINDOW_MS) break;
        const at = fromWallClock(w, timezone);
        if (at < t && (!best || at > best.at)) best = { at, label: w.getTime() };
      }
      return best?.at ?? null;
    },
  };
}

/** Wider than any DST shift (at most 2 h, historically), so the window search cannot miss a point. */
const SHIFT_WINDOW_MS = 3 * 3_600_000;
/** Enough for a per-minute schedule over twice the window. */
const MAX_WINDOW_STEPS = 1_000;

/** Airflow's _covers_every_hour: the hour field selects all 24 hours (`*`, `0-23`, `*\/1`). */
function firesEveryHour(expr: string): boolean {
  const fields = expr.trim().split(/\s+/);
  const hour = fields.length >= 6 ? fields[2] : fields[1];
  if (hour === undefined) return false;
  const probe = new Cron(`0 ${hour} * * *`, { timezone: "UTC", paused: true });
  const dayStart = Date.UTC(2000, 0, 1);
  return probe.nextRuns(24, new Date(dayStart - 1)).filter((d) => d.getTime() < dayStart + 86_400_000).length === 24;
}

const wallClockFormats = new Map<string, Intl.DateTimeFormat>();

/** UTC offset of `timezone` at `instantMs`, in ms (wall clock minus UTC). */
function offsetMs(instantMs: number, timezone: string): number {
  let format = wallClockFormats.get(timezone);
  if (!format) {
    format = new Intl.DateTimeFormat("en-US", {
      timeZone: timezone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    wallClockFormats.set(timezone, format);
  }
  const part: Record<string, number> = {};
  for (const p of format.formatToParts(new Date(instantMs))) if (p.type !== "literal") part[p.type] = Number(p.value);
  const wallMs = Date.UTC(part.year!, part.month! - 1, part.day!, part.hour!, part.minute!, part.second!);
  return wallMs - Math.floor(instantMs / 1000) * 1000;
}

/** The wall-clock time of `t` in `timezone`, as a Date whose UTC fields are that wall time. */
export function toWallClock(t: Date, timezone: string): Date {
  return new Date(t.getTime() + offsetMs(t.getTime(), timezone));
}

/**
 * The instant a wall-clock time (UTC fields of `wall`) denotes in `timezone`, as Airflow's
 * make_aware with fold=1: the later of two occurrences; in a gap, the wall time read with the
 * offset from before the gap (which lands as far past the gap's end as it was past its start).
 */
export function fromWallClock(wall: Date, timezone: string): Date {
  const w = wall.getTime();
  // DST transitions are months apart, so the offsets a day either side are the two candidates.
  const before = offsetMs(w - 86_400_000, timezone);
  const after = offsetMs(w + 86_400_000, timezone);
  const candidates = [...new Set([w - before, w - after])].filter((at) => at + offsetMs(at, timezone) === w);
  if (candidates.length) return new Date(Math.max(...candidates));
  return new Date(w - before);
}
