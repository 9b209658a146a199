// The real web server (API, /ui endpoints, socket.io, built UI) on a free port over a benchmark
// store, and a bearer token for it — signed with the server's key, as POST /auth/token would
// issue it, so that no user row or bcrypt hash is needed.
import { loadConfig } from "../../engine/config.js";
import { createLogger } from "../../engine/logger.js";
import type { Store } from "../../engine/store/db.js";
import { signToken } from "../../web/server/auth.js";
import { startWebServer, type WebServer } from "../../web/server/main.js";

const SECRET_KEY = "bench-secret-key-0123456789abcdef";

export interface BenchWeb {
  web: WebServer;
  token: string;
  /** GET `path` with the token; resolves with the ms until the whole body arrived. Throws unless 200. */
  timedGet(path: string): Promise<{ ms: number; bytes: number }>;
  close(): Promise<void>;
}

export async function startBenchWeb(store: Store): Promise<BenchWeb> {
  const config = loadConfig({}, { port: 0, host: "127.0.0.1", logLevel: "silent" });
  const web = await startWebServer(store, { ...config, secretKey: SECRET_KEY }, createLogger(process.env.UPDRAFT_BENCH_LOG_LEVEL ?? "warn", "bench-web"));
  const token = await signToken({ username: "bench", role: "viewer" }, { secretKey: SECRET_KEY, tokenTtlMs: 3_600_000 });
  const headers = { Authorization: `Bearer ${token}`, Accept: "application/json" };
  return {
    web,
    token,
    async timedGet(path) {
      const start = performance.now();
      // Node's fetch (undici) keeps the connection alive, as a browser does between calls.
      const res = await fetch(`${web.url}${path}`, { headers });
      const body = await res.arrayBuffer();
      const ms = performance.now() - start;
      if (res.status !== 200) throw new Error(`GET ${path}: ${res.status} ${Buffer.from(body).toString("utf8").slice(0, 300)}`);
      return { ms, bytes: body.byteLength };
    },
    close: () => web.close(),
  };
}
