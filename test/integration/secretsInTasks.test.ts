// Variables and connections inside tasks, end to end on PGlite and PostgreSQL: a task reads a
// stored connection, a stored secret variable, and environment-provided ones (UPDRAFT_VAR_*,
// UPDRAFT_CONN_*, which win over stored ones); it prints the secrets raw and inside longer
// strings. The logs API, the stored rows, the live socket.io log events and the XCom API show
// `***`, while the downstream task receives the real value. Unknown names fail with a message
// naming them. On PostgreSQL, d.sql runs a parameterised query on a stored connection and its
// rows reach a downstream task as XCom.
import request from "supertest";
import { io, type Socket } from "socket.io-client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import pg from "pg";
import { loadConfig } from "../../engine/config.js";
import { SecretCipher } from "../../engine/secrets/cipher.js";
import { SecretsLookup } from "../../engine/secrets/lookup.js";
import { createLogger } from "../../engine/logger.js";
import { signToken } from "../../web/server/auth.js";
import { startWebServer, type WebServer } from "../../web/server/main.js";
import { backends, createTestDatabase, type TestDatabase } from "../helpers/db.js";
import { dagsFolderWith, startEngine, waitFor, type TestEngine } from "../helpers/engine.js";

const SECRET_KEY = "secrets-test-key-0123456789abcdef";
const CONN_PASSWORD = "Pw-conn-31337";
const VAR_SECRET = "Var-secret-4242";
const ENV_CONN_PASSWORD = "Env-pass-777";
const ENV_VAR_SECRET = "env-token-5150";
const PLAINTEXTS = [CONN_PASSWORD, VAR_SECRET, ENV_CONN_PASSWORD, ENV_VAR_SECRET];

const DAGS = {
  "secrets_dag.ts": `
import { dag } from "updraft";
export default dag({ id: "secrets_dag" }, (d) => {
  const leak = d.task("leak", async (ctx) => {
    const conn = await ctx.connections.get("my_api");
    const pw = await ctx.variables.get("db_password");
    const region = await ctx.variables.get("region");
    const envConn = await ctx.connections.get("env_pg");
    const envToken = await ctx.variables.get("deploy_token");
    console.log(conn.password);
    console.log("connecting with password=" + conn.password + ";and more");
    ctx.log.info("variable:" + pw + "!");
    ctx.log.warn(pw);
    console.log("region=" + region + " host=" + conn.host);
    console.log("uri=" + conn.uri);
    console.error("env conn " + envConn.login + " " + envConn.password + " token " + envToken);
    return { note: "pw is " + pw, conn: conn.password, region, login: envConn.login };
  });
  d.task("downstream", [leak], (ctx, v) => {
    if (v.conn !== "${CONN_PASSWORD}" || !v.note.includes("${VAR_SECRET}")) throw new Error("downstream got a masked value");
    return v.region;
  });
  d.task("unknown_var", async (ctx) => { await ctx.variables.get("no_such_var"); });
  d.task("unknown_conn", async (ctx) => { await ctx.connections.get("no_such_conn"); });
  d.task("with_default", async (ctx) => [await ctx.variables.get("no_such_var", "fallback"), await ctx.variables.getJson("settings")]);
  d.task("fails_with_secret", async (ctx) => {
    throw new Error("bad login " + (await ctx.connections.get("my_api")).password);
  }, { retries: 0 });
});`,
};

function connect(url: string, token: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = io(url, { auth: { token }, transports: ["websocket"], reconnection: false });
    socket.once("connect", () => resolve(socket));
    socket.once("connect_error", (err) => {
      socket.close();
      reject(err);
    });
  });
}

describe.each(backends())("secrets in tasks on %s", (backend) => {
  let db: TestDatabase;
  let engine: TestEngine;
  let web: WebServer;
  let admin: string;
  let socket: Socket;
  const liveLogs: { task_id: string; event: string }[] = [];
  const saved: Record<string, string | undefined> = {};
  const env: Record<string, string> = {
    UPDRAFT_VAR_REGION: "from-env",
    UPDRAFT_VAR_DEPLOY_TOKEN: ENV_VAR_SECRET,
    UPDRAFT_CONN_ENV_PG: `postgres://envuser:${ENV_CONN_PASSWORD}@localhost:5432/db`,
  };

  const api = () => request(web.url);
  const get = (path: string) => api().get(path).set("Authorization", `Bearer ${admin}`);

  beforeAll(async () => {
    // Before the worker starts: its runners and its masker see the environment it starts with.
    for (const [k, v] of Object.entries(env)) {
      saved[k] = process.env[k];
      process.env[k] = v;
    }
    db = await createTestDatabase(backend);
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(DAGS), secretKey: SECRET_KEY });
    web = await startWebServer(db.store, { ...loadConfig({}, { port: 0, host: "127.0.0.1" }), secretKey: SECRET_KEY }, createLogger("silent"));
    admin = await signToken({ username: "admin", role: "admin" }, { secretKey: SECRET_KEY, tokenTtlMs: 600_000 });
    socket = await connect(web.url, admin);
    expect(await socket.emitWithAck("subscribe", "secrets_dag")).toEqual({ ok: true });
    socket.on("log", (e: { task_id: string; event: string }) => liveLogs.push(e));
  });
  afterAll(async () => {
    socket?.close();
    await web?.close();
    await engine?.stop();
    await db?.drop();
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  });

  const logText = async (taskId: string) => {
    const res = await get(`/api/v2/dags/secrets_dag/dagRuns/masked_run/taskInstances/${taskId}/logs/1`);
    expect(res.status).toBe(200);
    return (res.body.content as { event: string }[]).map((l) => l.event).join("\n");
  };

  it("masks secrets in stored logs, the logs API, live events and the XCom API; downstream gets the real value", async () => {
    const post = (path: string, body: object) => api().post(path).set("Authorization", `Bearer ${admin}`).send(body);
    expect((await post("/api/v2/connections", { connection_id: "my_api", conn_type: "http", host: "api.example.com", login: "bot", password: CONN_PASSWORD })).status).toBe(201);
    expect((await post("/api/v2/variables", { key: "db_password", value: VAR_SECRET })).status).toBe(201);
    // The environment wins over the stored value (Airflow's env secrets backend comes first).
    expect((await post("/api/v2/variables", { key: "region", value: "from-db" })).status).toBe(201);
    expect((await post("/api/v2/variables", { key: "settings", value: { retries: 3 } })).status).toBe(201);

    const trigger = await post("/api/v2/dags/secrets_dag/dagRuns", { dag_run_id: "masked_run", logical_date: null });
    expect(trigger.status).toBe(200);
    const tis = await waitFor("every task to end", async () => {
      const res = await get("/api/v2/dags/secrets_dag/dagRuns/masked_run/taskInstances");
      const list = res.body.task_instances as { task_id: string; state: string }[];
      return list.length === 6 && list.every((t) => ["success", "failed", "upstream_failed"].includes(t.state)) ? list : null;
    }, 30_000);
    const state = Object.fromEntries(tis.map((t) => [t.task_id, t.state]));
    expect(state).toEqual({ leak: "success", downstream: "success", unknown_var: "failed", unknown_conn: "failed", with_default: "success", fails_with_secret: "failed" });

    const leakLog = await logText("leak");
    for (const secret of PLAINTEXTS) expect(leakLog).not.toContain(secret);
    expect(leakLog).toContain("connecting with password=***;and more");
    expect(leakLog).toContain("variable:***!");
    expect(leakLog).toContain("region=from-env host=api.example.com");
    expect(leakLog).toContain("uri=http://bot:***@api.example.com");
    expect(leakLog).toContain("env conn envuser *** token ***");
    expect(leakLog.split("\n").filter((l) => l === "***")).toHaveLength(2); // the raw prints

    // The stored rows themselves hold no plaintext (the worker masks before storing).
    const rows = await db.store.db.selectFrom("task_logs").select("line").execute();
    for (const secret of PLAINTEXTS) expect(rows.some((r) => r.line.includes(secret))).toBe(false);

    // An error message carrying the secret is masked in the log and in the try's error too.
    expect(await logText("fails_with_secret")).toContain("bad login ***");
    expect(await logText("fails_with_secret")).not.toContain(CONN_PASSWORD);
    expect(await logText("unknown_var")).toContain(`variable "no_such_var" does not exist (neither stored nor set as UPDRAFT_VAR_NO_SUCH_VAR)`);
    expect(await logText("unknown_conn")).toContain(`connection "no_such_conn" does not exist`);

    // XCom as the API shows it is masked; downstream tasks received the real values (they succeeded).
    const xcom = await get("/api/v2/dags/secrets_dag/dagRuns/masked_run/taskInstances/leak/xcomEntries/return_value");
    expect(xcom.status).toBe(200);
    expect(xcom.body.value).toEqual({ note: "pw is ***", conn: "***", region: "from-env", login: "envuser" });
    const text = await get("/api/v2/dags/secrets_dag/dagRuns/masked_run/taskInstances/leak/xcomEntries/return_value?stringify=true");
    for (const secret of PLAINTEXTS) expect(text.body.value).not.toContain(secret);
    const stored = await db.store.db.selectFrom("xcom").select("value").where("task_id", "=", "leak").where("key", "=", "return_value").executeTakeFirstOrThrow();
    expect(stored.value).toMatchObject({ conn: CONN_PASSWORD });
    expect((await get("/api/v2/dags/secrets_dag/dagRuns/masked_run/taskInstances/with_default/xcomEntries/return_value")).body.value).toEqual(["fallback", { retries: 3 }]);
    expect((await get("/api/v2/dags/secrets_dag/dagRuns/masked_run/taskInstances/downstream/xcomEntries/return_value")).body.value).toBe("from-env");

    // Live log events are fed by the stored rows: the masked lines arrive, the plaintext never does.
    await waitFor("the live log line", async () => liveLogs.some((l) => l.task_id === "leak" && l.event.includes("connecting with password=***")));
    for (const secret of PLAINTEXTS) expect(liveLogs.some((l) => l.event.includes(secret))).toBe(false);
  });

  it("a worker with another secret key, or none, fails clearly instead of reading garbage", async () => {
    const other = new SecretsLookup(db.store.db, new SecretCipher("not-the-key-the-api-used-123"), {});
    await expect(other.connection("my_api")).rejects.toThrow(/cannot decrypt the password of connection "my_api": it was encrypted with another secret key.*UPDRAFT_SECRET_KEY/);
    await expect(other.variable("db_password")).rejects.toThrow(/cannot decrypt variable "db_password"/);
    const none = new SecretsLookup(db.store.db, null, {});
    await expect(none.variable("db_password")).rejects.toThrow(/this process has no secret key \(set UPDRAFT_SECRET_KEY\)/);
    const right = new SecretsLookup(db.store.db, new SecretCipher(SECRET_KEY), {});
    expect(await right.connection("my_api")).toMatchObject({ value: { password: CONN_PASSWORD }, secrets: [CONN_PASSWORD] });
    expect(await right.variable("nothing_here")).toBeNull();
  });
});

describe.skipIf(!backends().includes("postgres"))("d.sql on PostgreSQL", () => {
  let db: TestDatabase;
  let engine: TestEngine;
  let web: WebServer;
  let admin: string;

  const SQL_DAGS = {
    "sql_dag.ts": `
import { dag } from "updraft";
export default dag({ id: "sql_dag" }, (d) => {
  const rows = d.sql<{ ds: string; amount: number }>("daily_sales", {
    conn: "warehouse",
    sql: "select ds, amount from sales where ds = $1 order by amount",
    params: (ctx) => [ctx.ds],
  });
  d.task("total", [rows], (ctx, r) => ({ n: r.length, total: r.reduce((s, x) => s + x.amount, 0), first: r[0] }));
  d.sql("capped", { conn: "warehouse", sql: "select g from generate_series(1, 5) g", maxRows: 2 });
  d.sql("wrong_type", { conn: "not_pg", sql: "select 1" });
  d.sql("bad_sql", { conn: "warehouse", sql: "select * from no_such_table" });
});`,
  };

  beforeAll(async () => {
    db = await createTestDatabase("postgres");
    const client = new pg.Client({ connectionString: db.url });
    await client.connect();
    await client.query("create table sales (ds text, amount int); insert into sales values ('2024-03-05', 10), ('2024-03-05', 32), ('2024-03-06', 1000)");
    await client.end();
    engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(SQL_DAGS), secretKey: SECRET_KEY });
    web = await startWebServer(db.store, { ...loadConfig({}, { port: 0, host: "127.0.0.1" }), secretKey: SECRET_KEY }, createLogger("silent"));
    admin = await signToken({ username: "admin", role: "admin" }, { secretKey: SECRET_KEY, tokenTtlMs: 600_000 });
  });
  afterAll(async () => {
    await web?.close();
    await engine?.stop();
    await db?.drop();
  });

  it("runs the query with params from ctx on a stored connection; rows reach the downstream task", async () => {
    const auth = { Authorization: `Bearer ${admin}` };
    const u = new URL(db.url!);
    const conn = { connection_id: "warehouse", conn_type: "postgres", host: u.hostname, port: Number(u.port || 5432), login: decodeURIComponent(u.username), schema: u.pathname.slice(1), password: u.password ? decodeURIComponent(u.password) : "trust-auth-ignores-1" };
    expect((await request(web.url).post("/api/v2/connections").set(auth).send(conn)).status).toBe(201);
    expect((await request(web.url).post("/api/v2/connections").set(auth).send({ connection_id: "not_pg", conn_type: "http", host: "x" })).status).toBe(201);
    const trigger = await request(web.url).post("/api/v2/dags/sql_dag/dagRuns").set(auth).send({ dag_run_id: "sql_run", logical_date: "2024-03-05T00:00:00Z" });
    expect(trigger.status).toBe(200);
    const base = "/api/v2/dags/sql_dag/dagRuns/sql_run/taskInstances";
    const tis = await waitFor("every task to end", async () => {
      const list = (await request(web.url).get(base).set(auth)).body.task_instances as { task_id: string; state: string }[];
      return list.length === 5 && list.every((t) => ["success", "failed"].includes(t.state)) ? list : null;
    }, 30_000);
    expect(Object.fromEntries(tis.map((t) => [t.task_id, t.state]))).toEqual({ daily_sales: "success", total: "success", capped: "success", wrong_type: "failed", bad_sql: "failed" });

    const xcom = async (task: string) => (await request(web.url).get(`${base}/${task}/xcomEntries/return_value`).set(auth)).body.value;
    expect(await xcom("daily_sales")).toEqual([{ ds: "2024-03-05", amount: 10 }, { ds: "2024-03-05", amount: 32 }]);
    expect(await xcom("total")).toEqual({ n: 2, total: 42, first: { ds: "2024-03-05", amount: 10 } });
    expect(await xcom("capped")).toEqual([{ g: 1 }, { g: 2 }]);

    const log = async (task: string) => ((await request(web.url).get(`${base}/${task}/logs/1`).set(auth)).body.content as { event: string }[]).map((l) => l.event).join("\n");
    expect(await log("daily_sales")).toContain("running: select ds, amount from sales where ds = $1 order by amount (1 parameter)");
    expect(await log("capped")).toContain("keeping the first 2 of 5 rows as the task's value (maxRows)");
    expect(await log("wrong_type")).toContain(`d.sql runs on PostgreSQL connections; connection "not_pg" is of type "http"`);
    expect(await log("bad_sql")).toContain(`relation "no_such_table" does not exist`);
    expect(await log("daily_sales")).not.toContain(conn.password);
  });
});
