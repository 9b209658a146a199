// The GETs behind the UI's useApi (web/ui/src/api/latestGet.ts): a reload during a GET lets that
// GET's result through and reads once more after it; a result for a path no longer shown is dropped.
import { describe, expect, it } from "vitest";
import { LatestGet, type GetResult } from "../../web/ui/src/api/latestGet.js";

/** GETs that the test answers by hand, in any order. */
function harness() {
  const calls: { path: string; resolve: (v: string) => void; reject: (e: Error) => void }[] = [];
  const delivered: GetResult<string>[] = [];
  const loading: boolean[] = [];
  const gets = new LatestGet<string>(
    (path) => new Promise<string>((resolve, reject) => calls.push({ path, resolve, reject })),
    (r) => delivered.push(r),
    (on) => loading.push(on),
  );
  const settle = () => new Promise((r) => setTimeout(r, 0));
  return { gets, calls, delivered, loading, settle };
}

describe("LatestGet", () => {
  it("delivers the GET in flight when reloaded during it, then reads once more", async () => {
    const { gets, calls, delivered, settle } = harness();
    gets.setPath("/ui/grid/big");
    gets.reload();
    gets.reload(); // several reloads during one GET fold into one more read
    expect(calls.map((c) => c.path)).toEqual(["/ui/grid/big"]);
    calls[0]!.resolve("first");
    await settle();
    expect(delivered).toEqual([{ data: "first" }]);
    expect(calls).toHaveLength(2);
    calls[1]!.resolve("second");
    await settle();
    expect(delivered).toEqual([{ data: "first" }, { data: "second" }]);
    expect(calls).toHaveLength(2);
  });

  it("reads at once on a reload with nothing in flight", async () => {
    const { gets, calls, delivered, settle } = harness();
    gets.setPath("/dags");
    calls[0]!.resolve("a");
    await settle();
    gets.reload();
    expect(calls).toHaveLength(2);
    calls[1]!.resolve("b");
    await settle();
    expect(delivered.map((d) => d.data)).toEqual(["a", "b"]);
  });

  it("drops a result for a path no longer shown, and anything after stop()", async () => {
    const { gets, calls, delivered, settle } = harness();
    gets.setPath("/dags/a");
    gets.reload();
    gets.setPath("/dags/b");
    calls[0]!.resolve("a");
    await settle();
    expect(delivered).toEqual([]);
    expect(calls.map((c) => c.path)).toEqual(["/dags/a", "/dags/b"]); // the reload of /dags/a was dropped with it
    calls[1]!.resolve("b");
    await settle();
    expect(delivered).toEqual([{ data: "b" }]);
    gets.reload();
    gets.stop();
    calls[2]!.resolve("late");
    await settle();
    expect(delivered).toEqual([{ data: "b" }]);
  });

  it("delivers an error as such, and still reads again when reloaded meanwhile", async () => {
    const { gets, calls, delivered, loading, settle } = harness();
    gets.setPath("/dags/x");
    gets.reload();
    calls[0]!.reject(new Error("503"));
    await settle();
    expect(delivered).toHaveLength(1);
    expect((delivered[0]!.error as Error).message).toBe("503");
    expect(calls).toHaveLength(2);
    calls[1]!.resolve("ok");
    await settle();
    expect(delivered[1]).toEqual({ data: "ok" });
    expect(loading).toEqual([true, false, true, false]);
  });

  it("reads nothing for a null path", () => {
    const { gets, calls, loading } = harness();
    gets.setPath(null);
    gets.reload();
    expect(calls).toHaveLength(0);
    expect(loading).toEqual([]);
  });
});
