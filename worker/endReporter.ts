// How a worker reports its tasks' ends. Each goes through finishTask (one statement on its common
// paths), except under load: the ends of one run that pile up while the worker is reporting
// another end of that run go together (keyedBatcher.ts) — leaves in one statement
// (finishLeaves.ts), successes that settle their downstream in one statement (a fan-out's root, a
// fan-in's upstreams: finishSuccesses.ts) in another. Anything else, and any end a batch could not
// write or settle, is reported alone, where finishTask decides what became of it.
import type { Kysely } from "kysely";
import type { Database } from "../engine/store/schema.js";
import { withDbRetry } from "../engine/store/sqlstate.js";
import type { TaskStructure } from "../engine/model/structure.js";
import type { LoadedVersion } from "../engine/store/versions.js";
import { FAN_IN_NEEDS_SETTLING, fastPlanOnSuccess, finishTask, type FastPlan, type FinishInput, type FinishResult } from "../engine/store/tasks/finishTask.js";
import { finishLeaves, type LeafEnd, type LeavesResult } from "../engine/store/tasks/finishLeaves.js";
import { finishSuccesses } from "../engine/store/tasks/finishSuccesses.js";
import { KeyedBatcher } from "./keyedBatcher.js";

/**
 * The longest a fan-in upstream's report waits for the ends of its run's other TIs running in the
 * same worker. Short: a sibling that runs longer than this is not waited for.
 */
export const FAN_IN_HOLD_MS = 2;

/** What the worker's reports retry through: a database outage (worker.ts's OUTAGE_RETRY). */
type Retry = { forMs: number; maxMs: number };

interface Pending {
  input: FinishInput;
  version: LoadedVersion;
  /** A leaf's end, or a success settled by its plan; null: reported alone, never batched. */
  kind: "leaf" | "success";
  plan?: FastPlan;
}

export class EndReporter {
  private readonly batcher = new KeyedBatcher<Pending, FinishResult>((runPk, items) => this.send(runPk, items));

  constructor(
    private readonly db: Kysely<Database>,
    private readonly who: { workerId: string; hostname: string; queues: string[] },
    private readonly retry: Retry,
    /** How many TIs of this run the worker is running now, those reporting included. */
    private readonly runningOfRun: (runPk: number) => number = () => 0,
  ) {}

  /** Reports one end (`input`, with the worker's hint); `def`: its task in `version`. */
  report(runPk: number, input: FinishInput, version: LoadedVersion, def: TaskStructure | undefined): Promise<FinishResult> {
    const skips = !!input.skipDownstream?.length;
    if (def && !def.dependsOnPast && !skips && input.known) {
      if (def.downstream.length === 0) return this.batcher.submit(runPk, { input, version, kind: "leaf" });
      const plan = input.outcome === "success" ? fastPlanOnSuccess(version, input.known.taskId) : null;
      if (plan) {
        // A success whose downstream are all fan-ins waiting for more than it: while other TIs of
        // its run still run here, its report waits for theirs (up to FAN_IN_HOLD_MS) so that they
        // go as one statement — the fan-in cannot start before its other upstreams end anyway.
        const allFanIn = plan.downstream.every((id) => plan.fanIn[id]?.length);
        const hold = allFanIn ? { ms: FAN_IN_HOLD_MS, enough: (waiting: number) => waiting >= this.runningOfRun(runPk) } : undefined;
        return this.batcher.submit(runPk, { input, version, kind: "success", plan }, hold);
      }
    }
    return this.alone(input);
  }

  private alone(input: FinishInput): Promise<FinishResult> {
    return withDbRetry(() => finishTask(this.db, input), this.retry);
  }

  private async send(runPk: number, items: Pending[]): Promise<FinishResult[]> {
    const results = new Map<Pending, FinishResult>();
    const version = items[0]!.version;
    const sameVersion = items.every((x) => x.version.id === version.id);
    for (const kind of ["leaf", "success"] as const) {
      const group = items.filter((x) => x.kind === kind);
      if (group.length === 1 || (group.length > 1 && !sameVersion)) {
        for (const x of group) results.set(x, await this.alone(x.input));
      } else if (group.length > 1) {
        const done = await this.sendBatch(runPk, version, kind, group);
        for (let k = 0; k < group.length; k++) results.set(group[k]!, done[k]!);
      }
    }
    return items.map((x) => results.get(x)!);
  }

  /** One statement for the group; an end it did not write is reported again alone. */
  private async sendBatch(runPk: number, version: LoadedVersion, kind: "leaf" | "success", group: Pending[]): Promise<FinishResult[]> {
    const claim = group.every((x) => x.input.claim) ? this.who : null;
    const ends: LeafEnd[] = group.map(({ input }) => ({ ...input, taskId: input.known!.taskId, versionId: input.known!.versionId }));
    let done: LeavesResult;
    if (kind === "leaf") {
      done = await withDbRetry(() => finishLeaves(this.db, { runPk, workerId: this.who.workerId, version, ends, claim }), this.retry);
    } else {
      const downstream: Record<string, string[]> = {};
      for (const x of group) for (const id of x.plan!.downstream) downstream[id] = version.tasks.get(id)!.upstream;
      try {
        done = await withDbRetry(() => finishSuccesses(this.db, { runPk, workerId: this.who.workerId, version, ends, downstream, claim }), this.retry);
      } catch (err) {
        // An upstream of a downstream TI failed or was skipped: nothing was written; the general
        // path settles it, one end at a time.
        if ((err as { code?: string }).code !== FAN_IN_NEEDS_SETTLING) throw err;
        const results: FinishResult[] = [];
        for (const x of group) results.push(await this.alone(x.input));
        return results;
      }
    }
    const last = done.states.findLastIndex((s) => s !== null);
    const taken = [...done.claimed];
    const results: FinishResult[] = [];
    for (let k = 0; k < group.length; k++) {
      const state = done.states[k];
      // Each written end hands its slot to at most one TI (the statement took no more TIs than ends).
      if (state == null) results.push(await this.alone(group[k]!.input));
      else results.push({ accepted: true, state, runState: k === last ? done.runState : "running", claimed: taken.splice(0, k === last ? taken.length : 1) });
    }
    return results;
  }
}
