// The columns a clear resets on a TI: back to "none", with `retries` more tries from here on,
// nothing left of its last attempt. Shared by clearing a run and clearing chosen TIs.
import { sql } from "kysely";

export function clearedTiColumns(retries: unknown) {
  return {
    state: null,
    max_tries: sql<number>`try_number + ${retries}`,
    worker_id: null,
    hostname: null,
    pid: null,
    scheduled_when: null,
    queued_when: null,
    start_date: null,
    end_date: null,
    duration: null,
    heartbeat_at: null,
    next_retry_at: null,
    // A sensor's timeout starts over after a clear (migrations/0006_pools.sql).
    sensor_started_at: null,
    reschedule_date: null,
    updated_at: sql<Date>`now()`,
  };
}
