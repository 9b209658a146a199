// One socket.io connection per tab, authenticated with the session's token; components subscribe
// to a DAG's room and receive its run, TI and log events (web/server/live.ts).
import { useEffect, useRef, useState } from "react";
import { io, type Socket } from "socket.io-client";
import { currentSession } from "./session";

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
  truncated: boolean;
}

let socket: Socket | null = null;
let socketToken: string | null = null;

function connection(): Socket | null {
  const session = currentSession();
  if (!session) return null;
  if (socket && socketToken === session.token) return socket;
  socket?.disconnect();
  socketToken = session.token;
  socket = io({ auth: { token: session.token }, transports: ["websocket"] });
  return socket;
}

export function disconnectLive(): void {
  socket?.disconnect();
  socket = null;
  socketToken = null;
}

export interface LiveHandlers {
  /**
   * The room is joined (and again after a reconnect): a read made before may have missed events
   * (the server sends them only while it has clients), so read again.
   */
  subscribed?: () => void;
  ti?: (e: LiveTi) => void;
  run?: (e: LiveRun) => void;
  log?: (e: LiveLog) => void;
}

/** Subscribes to `dag:<dagId>` while mounted; returns whether the socket is connected. */
export function useLive(dagId: string | undefined, handlers: LiveHandlers): boolean {
  const ref = useRef(handlers);
  ref.current = handlers;
  const [connected, setConnected] = useState(false);
  useEffect(() => {
    const s = dagId ? connection() : null;
    if (!s || !dagId) return;
    const subscribe = () => {
      s.emit("subscribe", dagId, (answer?: { ok: boolean }) => {
        setConnected(true);
        if (answer?.ok) ref.current.subscribed?.();
      });
    };
    const onDisconnect = () => setConnected(false);
    const onTi = (e: LiveTi) => e.dag_id === dagId && ref.current.ti?.(e);
    const onRun = (e: LiveRun) => e.dag_id === dagId && ref.current.run?.(e);
    const onLog = (e: LiveLog) => e.dag_id === dagId && ref.current.log?.(e);
    s.on("connect", subscribe);
    s.on("disconnect", onDisconnect);
    s.on("ti", onTi);
    s.on("run", onRun);
    s.on("log", onLog);
    if (s.connected) subscribe();
    return () => {
      s.off("connect", subscribe);
      s.off("disconnect", onDisconnect);
      s.off("ti", onTi);
      s.off("run", onRun);
      s.off("log", onLog);
      s.emit("unsubscribe", dagId);
    };
  }, [dagId]);
  return connected;
}
