// A long-running process opening a PostgreSQL that is not up yet (issue 8): it waits — refused
// connections, then a server answering 57P03 "the database system is starting up" — logging one
// line per attempt and no stack, and opens (migrated) as soon as the database answers. A
// configuration error (no such database) fails at once, in one line. The server here is a TCP
// front on a spare port that refuses, then answers like a starting server, then passes through
// to the test's own database; chaos/dbDownAtStart.chaos.ts does the same with real processes and
// a real server stopped and started.
import net from "node:net";
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pino from "pino";
import { loadConfig } from "../../engine/config.js";
import type { Store } from "../../engine/store/db.js";
import { DatabaseOpenError, openMigratedStore } from "../../engine/store/openFromConfig.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { withDatabase } from "../helpers/postgres.js";
import { freePort } from "../helpers/privatePostgres.js";

/** A FATAL ErrorResponse with SQLSTATE 57P03, as a server in recovery sends to a new connection. */
function startingUpResponse(): Buffer {
  const fields = Buffer.concat([
    ...[
      ["S", "FATAL"],
      ["V", "FATAL"],
      ["C", "57P03"],
      ["M", "the database system is starting up"],
    ].map(([k, v]) => Buffer.from(`${k}${v}\0`)),
    Buffer.from("\0"),
  ]);
  const header = Buffer.alloc(5);
  header.write("E", 0);
  header.writeInt32BE(fields.length + 4, 1);
  return Buffer.concat([header, fields]);
}

describe.skipIf(!backends().includes("postgres"))("opening a database that is not up yet", () => {
  let db: TestDatabase;
  let front: net.Server | null = null;
  let store: Store | null = null;

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
  });
  afterAll(async () => {
    await store?.close();
    await new Promise((r) => (front ? front.close(r) : r(null)));
    await db?.drop();
  });

  it("waits through refused connections and 57P03, one log line per attempt, then opens migrated", async () => {
    const port = await freePort();
    const target = new URL(db.url!);
    const url = `postgres://${target.username}@127.0.0.1:${port}${target.pathname}`;
    const lines: string[] = [];
    const logger = pino({ level: "info" }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(...chunk.toString().split("\n").filter(Boolean)), done()) }));
    const attempts = () => lines.filter((l) => l.includes("cannot connect to the database")).map((l) => JSON.parse(l) as { msg: string; level: number });

    const opening = openMigratedStore(loadConfig({ DATABASE_URL: url, UPDRAFT_DB_CONNECT_TIMEOUT_MS: "1000" }), "updraft-test", logger);
    // Nothing listens on the port yet: refused.
    while (attempts().length < 2) await new Promise((r) => setTimeout(r, 20));
    expect(attempts()[0]!.msg).toMatch(new RegExp(`^cannot connect to the database at 127\\.0\\.0\\.1:${port}${target.pathname} \\(DATABASE_URL\\): connect ECONNREFUSED 127\\.0\\.0\\.1:${port}; retrying in \\d+\\.\\d s$`));

    // Then a server that is starting up.
    let up = false;
    front = net.createServer((client) => {
      if (!up) {
        client.once("data", () => client.end(startingUpResponse()));
        return;
      }
      const upstream = net.connect(Number(target.port || 5432), target.hostname);
      client.pipe(upstream).pipe(client);
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
    });
    await new Promise<void>((r) => front!.listen(port, "127.0.0.1", r));
    const before = attempts().length;
    while (!attempts().slice(before).some((a) => a.msg.includes("57P03"))) await new Promise((r) => setTimeout(r, 20));
    expect(attempts().find((a) => a.msg.includes("57P03"))!.msg).toContain("the database system is starting up (57P03)");

    up = true;
    store = await opening;
    const migrations = await store.db.selectFrom("updraft_migrations" as never).select("version" as never).execute();
    expect(migrations.length).toBeGreaterThan(0);
    // One line per attempt, each a single JSON object at warn level: no stack anywhere.
    expect(attempts().every((a) => a.level === 40)).toBe(true);
    expect(lines.some((l) => l.includes('"stack"') || l.includes("\\n    at "))).toBe(false);
    expect(lines.at(-1)).toContain("the database answers; starting");
  }, 60_000);

  it("fails at once, in one line, when the database does not exist", async () => {
    const lines: string[] = [];
    const logger = pino({ level: "info" }, new Writable({ write: (chunk: Buffer, _e, done) => (lines.push(chunk.toString()), done()) }));
    const url = withDatabase(db.url!, "updraft_no_such_database");
    const error = await openMigratedStore(loadConfig({ DATABASE_URL: url }), "updraft-test", logger).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DatabaseOpenError);
    expect((error as DatabaseOpenError).message).toBe(`cannot connect to the database at ${new URL(url).hostname}:${new URL(url).port || "5432"}/updraft_no_such_database (DATABASE_URL): database "updraft_no_such_database" does not exist (3D000)`);
    expect((error as DatabaseOpenError).retryable).toBe(false);
    expect(lines).toEqual([]);
  });
});
