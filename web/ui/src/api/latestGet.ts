// The GETs behind useApi (useApi.ts), without React: one path at a time, re-read on reload().
//
// A reload() while a GET of the same path is in flight does not drop that GET: its result is
// delivered when it lands, and one more GET follows it. Pages reload on every live subscription's
// acknowledgement (api/live.ts), which arrives while their first GET is still in flight; when
// that first response was dropped, the grid's first paint waited for the second GET (grid
// benchmark, 5,000 tasks × 25 runs, PostgreSQL: 1,037–1,114 ms; delivered, 593 ms). A result for
// a path no longer shown (setPath, stop) is dropped.
export interface GetResult<T> {
  data?: T;
  error?: unknown;
}

export class LatestGet<T> {
  private generation = 0;
  private path: string | null = null;
  private inFlight = false;
  private again = false;

  /** `get` fetches a path; `deliver` receives each result that still counts; `loading` its state. */
  constructor(
    private readonly get: (path: string) => Promise<T>,
    private readonly deliver: (result: GetResult<T>) => void,
    private readonly loading: (on: boolean) => void,
  ) {}

  /** Shows `path` from now on (null: nothing), reading it at once; results for the previous one are dropped. */
  setPath(path: string | null): void {
    this.generation += 1;
    this.path = path;
    this.inFlight = false;
    this.again = false;
    this.fetch();
  }

  /** Reads the path again: now, or once the GET in flight has landed (and been delivered). */
  reload(): void {
    if (this.inFlight) this.again = true;
    else this.fetch();
  }

  /** Drops whatever is in flight (unmount). */
  stop(): void {
    this.generation += 1;
    this.inFlight = false;
    this.again = false;
  }

  private fetch(): void {
    const path = this.path;
    if (path === null) return;
    const generation = this.generation;
    this.inFlight = true;
    this.loading(true);
    const landed = (result: GetResult<T>) => {
      if (this.generation !== generation) return;
      this.inFlight = false;
      this.deliver(result);
      this.loading(false);
      if (this.again) {
        this.again = false;
        this.fetch();
      }
    };
    this.get(path).then(
      (data) => landed({ data }),
      (error: unknown) => landed({ error }),
    );
  }
}
