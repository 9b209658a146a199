// Natural batching of a worker's reports, per key (a run): the first report of a key goes out at
// once, alone; reports of that key that arrive while it is in flight wait for it, and then go out
// together in one call. Nothing waits on a timer: an idle worker reports every end as soon as it
// happens (the hand-off latency stays what it was), and a busy one — every slot on one fan-out —
// sends its ends in batches as large as the ends that piled up meanwhile, one statement for each
// instead of one per end queued behind the same row lock (engine/store/tasks/finishLeaves.ts).
export class KeyedBatcher<I, R> {
  private readonly waiting = new Map<number, { item: I; resolve: (r: R) => void; reject: (err: unknown) => void }[]>();
  private readonly inFlight = new Set<number>();
  private readonly held = new Map<number, NodeJS.Timeout>();

  /** `send` reports items of one key, and returns one result per item, in order. */
  constructor(private readonly send: (key: number, items: I[]) => Promise<R[]>) {}

  /**
   * `hold`: when nothing of this key is in flight, wait up to `ms` for more of its items before
   * sending, unless `enough(waiting)` says the items now waiting are all that will come.
   */
  submit(key: number, item: I, hold?: { ms: number; enough: (waiting: number) => boolean }): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const list = this.waiting.get(key);
      if (list) list.push({ item, resolve, reject });
      else this.waiting.set(key, [{ item, resolve, reject }]);
      if (this.inFlight.has(key)) return;
      const timer = this.held.get(key);
      if (hold && hold.ms > 0 && !hold.enough(this.waiting.get(key)!.length)) {
        if (!timer) this.held.set(key, setTimeout(() => this.flush(key), hold.ms));
        return;
      }
      this.flush(key);
    });
  }

  private flush(key: number): void {
    const timer = this.held.get(key);
    if (timer) {
      clearTimeout(timer);
      this.held.delete(key);
    }
    const batch = this.waiting.get(key);
    if (!batch?.length) return;
    this.waiting.delete(key);
    this.inFlight.add(key);
    this.send(
      key,
      batch.map((b) => b.item),
    ).then(
      (results) => {
        batch.forEach((b, i) => b.resolve(results[i]!));
      },
      (err: unknown) => {
        for (const b of batch) b.reject(err);
      },
    ).finally(() => {
      this.inFlight.delete(key);
      this.flush(key);
    });
  }
}
