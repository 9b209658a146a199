// The one SQLSTATE table and withDbRetry: connection loss, server restarts and timeouts are
// retried with backoff (for a time budget when `forMs` is given); everything else is thrown at once.
import { describe, expect, it } from "vitest";
import { isRetryableDbError, withDbRetry } from "../../engine/store/sqlstate.js";

describe("isRetryableDbError", () => {
  it.each([
    [{ code: "57P01" }, true], // admin_shutdown: the server is restarting
    [{ code: "57P03" }, true], // cannot_connect_now: still starting
    [{ code: "08006" }, true],
    [{ code: "ECONNREFUSED" }, true],
    [{ code: "57014" }, true], // statement_timeout
    [{ message: "Query read timeout" }, true], // pg's query_timeout: a half-open connection
    [{ message: "timeout exceeded when trying to connect" }, true],
    [{ message: "Connection terminated unexpectedly" }, true],
    [{ code: "EAI_AGAIN" }, true], // temporary DNS failure: a container network coming up
    [{ code: "ENOTFOUND" }, false], // no such host: a configuration error, fails at start
    [{ code: "28P01" }, false], // authentication failed
    [{ code: "3D000" }, false], // no such database
    [{ code: "23505" }, false],
    [{ code: "42P01" }, false],
    [new Error("boom"), false],
    [null, false],
  ])("%j → %s", (err, retryable) => {
    expect(isRetryableDbError(err)).toBe(retryable);
  });
});

describe("withDbRetry", () => {
  it("keeps retrying a retryable error for the forMs budget, then succeeds", async () => {
    let calls = 0;
    const started = Date.now();
    const value = await withDbRetry(
      async () => {
        if (Date.now() - started < 300) {
          calls++;
          throw Object.assign(new Error("connect ECONNREFUSED"), { code: "ECONNREFUSED" });
        }
        return "back";
      },
      { forMs: 5_000, baseMs: 5, maxMs: 50 },
    );
    expect(value).toBe("back");
    // More than the default 8 attempts: the budget, not a count, bounds an outage.
    expect(calls).toBeGreaterThan(8);
  });

  it("gives up when the forMs budget is spent", async () => {
    const started = Date.now();
    await expect(withDbRetry(() => Promise.reject(Object.assign(new Error("down"), { code: "57P01" })), { forMs: 200, baseMs: 5, maxMs: 20 })).rejects.toThrow("down");
    expect(Date.now() - started).toBeGreaterThanOrEqual(200);
    expect(Date.now() - started).toBeLessThan(2_000);
  });

  it("throws a non-retryable error at once", async () => {
    let calls = 0;
    await expect(withDbRetry(async () => {
      calls++;
      throw Object.assign(new Error("duplicate"), { code: "23505" });
    }, { forMs: 5_000 })).rejects.toThrow("duplicate");
    expect(calls).toBe(1);
  });
});
