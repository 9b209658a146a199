// Live events over socket.io (DESIGN §7, issue 5 item 5). Triggers NOTIFY `updraft_live` on every
// TI/run state change and log line (migrations/0005_live_events.sql); each web server LISTENs and
// relays them to the browsers in the DAG's room `dag:<dag_id>`. A socket authenticates with the
// API's JWT (handshake `auth.token`) and may join only rooms of DAGs that exist. The triggers send
// only while a web server has clients (liveWatchers.ts): a subscription is acknowledged once they do.
import type http from "node:http";
import { Server, type Socket } from "socket.io";
import { CHANNELS } from "../../engine/store/channels.js";
import type { Store } from "../../engine/store/db.js";
import type { Logger } from "../../engine/logger.js";
import { verifyToken, type AuthUser } from "./auth.js";
import { LiveWatch } from "./liveWatchers.js";

/** A TI state change as the UI receives it. */
export interface LiveTi {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  state: string | null;
  try_number: number;
}
export interface LiveRun {
  dag_id: string;
  run_id: string;
  state: string;
}
export interface LiveLog {
  dag_id: string;
  run_id: string;
  task_id: string;
  map_index: number;
  try_number: number;
  id: number;
  timestamp: string;
  event: string;
  level: string;
  logger: string;
  truncated: boolean;
}

interface RawEvent {
  d: string;
  r: string;
  t?: string;
  m?: number;
  s?: string | null;
  n?: number;
  i?: number;
  ts?: string;
  st?: string;
  l?: string;
  x?: boolean;
  v?: string;
}

export const roomOf = (dagId: string) => `dag:${dagId}`;

export interface LiveServer {
  io: Server;
  close(): Promise<void>;
}

/** `corsOrigins`: the origins UPDRAFT_CORS_ORIGINS allows for the API may open sockets too; none by default. */
export async function attachLive(server: http.Server, store: Store, secretKey: string, logger: Logger, corsOrigins: string[] = []): Promise<LiveServer> {
  const watch = new LiveWatch(store.db, logger);
  const io = new Server(server, { serveClient: false, cors: { origin: corsOrigins.length ? corsOrigins : false } });

  io.use((socket, next) => {
    const token: unknown = socket.handshake.auth?.token;
    if (typeof token !== "string" || !token) return next(new Error("Not authenticated"));
    verifyToken(token, secretKey).then(
      (user) => {
        socket.data.user = user satisfies AuthUser;
        next();
      },
      (err: Error) => next(new Error(err.message)),
    );
  });

  io.on("connection", (socket: Socket) => {
    // Events flow once the lease is in effect; a subscription waits for it, so that what the
    // client reads after its acknowledgement plus the events it then receives miss nothing.
    const watching = watch.enter();
    socket.once("disconnect", () => watch.leave());
    socket.on("subscribe", async (dagId: unknown, ack?: (answer: { ok: boolean; error?: string }) => void) => {
      const reply = typeof ack === "function" ? ack : () => {};
      if (typeof dagId !== "string" || dagId.length > 250) return reply({ ok: false, error: "dag_id must be a string" });
      const exists = await store.db.selectFrom("dags").select("dag_id").where("dag_id", "=", dagId).executeTakeFirst().catch(() => undefined);
      if (!exists) return reply({ ok: false, error: `The Dag with ID: \`${dagId}\` was not found` });
      await socket.join(roomOf(dagId));
      await watching;
      reply({ ok: true });
    });
    socket.on("unsubscribe", async (dagId: unknown) => {
      if (typeof dagId === "string") await socket.leave(roomOf(dagId));
    });
  });

  const unlisten = await store.listen(CHANNELS.live, (payload) => {
    // Empty: the LISTEN connection came back after an outage (db.ts); browsers refetch on reconnect.
    if (!payload) return;
    let message: { k: string; e: RawEvent[] };
    try {
      message = JSON.parse(payload) as { k: string; e: RawEvent[] };
    } catch {
      logger.warn({ payload: payload.slice(0, 200) }, "unparseable live event");
      return;
    }
    for (const e of message.e ?? []) {
      const room = io.to(roomOf(e.d));
      if (message.k === "ti") {
        room.emit("ti", { dag_id: e.d, run_id: e.r, task_id: e.t ?? "", map_index: e.m ?? -1, state: e.s ?? null, try_number: e.n ?? 0 } satisfies LiveTi);
      } else if (message.k === "run") {
        room.emit("run", { dag_id: e.d, run_id: e.r, state: e.s ?? "" } satisfies LiveRun);
      } else if (message.k === "log") {
        room.emit("log", {
          dag_id: e.d,
          run_id: e.r,
          task_id: e.t ?? "",
          map_index: e.m ?? -1,
          try_number: e.n ?? 0,
          id: Number(e.i ?? 0),
          timestamp: e.ts ? new Date(e.ts).toISOString() : new Date().toISOString(),
          event: e.v ?? "",
          level: e.l === "warn" ? "warning" : (e.l ?? "info"),
          logger: e.st === "log" || !e.st ? "task" : `task.${e.st}`,
          truncated: Boolean(e.x),
        } satisfies LiveLog);
      }
    }
  });

  return {
    io,
    async close() {
      await unlisten().catch(() => {});
      await watch.close();
      // io.close() would also close the HTTP server, which its owner closes.
      io.disconnectSockets(true);
      io.engine.close();
    },
  };
}
