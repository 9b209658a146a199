// Schedules and data intervals with Airflow 2 semantics (create_cron_data_intervals=True):
// the run for interval [start, end) is created at `end`; its logical date is `start`.
// Cron math is croner's, never ours (CONVENTIONS: use the well-kept library).
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
    const cron = new Cron(s.expr, { timezone: s.timezone, paused: true });
    const next = (t: Date) => cron.nextRun(t);
    return {
      summary: s.summary,
      intervalStartingAtOrAfter(t) {
        const start = next(new Date(t.getTime() - 1));
        const end = start && next(start);
        return start && end ? { start, end } : null;
      },
      latestCompleteInterval(now) {
        const [end, start] = cron.previousRuns(2, new Date(now.getTime() + 1));
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
