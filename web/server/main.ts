// Starting the web server on config.host:config.port (port 0 picks a free one, for tests).
import fs from "node:fs";
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Config } from "../../engine/config.js";
import type { Logger } from "../../engine/logger.js";
import type { Store } from "../../engine/store/db.js";
import { createApp } from "./app.js";
import { attachLive } from "./live.js";
import { DEFAULT_UI_DIR } from "./static.js";

export interface WebServer {
  url: string;
  port: number;
  close(): Promise<void>;
}

/** In-flight requests get this long to finish on close before their connections are cut. */
const CLOSE_GRACE_MS = 5_000;

const VERSION = (JSON.parse(fs.readFileSync(new URL("../../package.json", import.meta.url), "utf8")) as { version: string }).version;

export async function startWebServer(store: Store, config: Config & { secretKey: string }, logger: Logger): Promise<WebServer> {
  const corsOrigins = config.corsOrigins.split(",").map((o) => o.trim()).filter(Boolean);
  const app = createApp(store, {
    secretKey: config.secretKey,
    tokenTtlMs: config.tokenTtlMs,
    version: VERSION,
    logger,
    uiDir: DEFAULT_UI_DIR,
    loginRateLimitPerMinute: config.loginRateLimit,
    corsOrigins,
    metricsToken: config.metricsToken,
  });
  const server = http.createServer(app);
  const live = await attachLive(server, store, config.secretKey, logger, corsOrigins);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(config.port, config.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const url = `http://${displayHost(config.host)}:${port}`;
  logger.info({ url }, "web server listening");
  return {
    url,
    port,
    close: async () => {
      await live.close();
      await new Promise<void>((resolve, reject) => {
        server.close((err) => (err ? reject(err) : resolve()));
        server.closeIdleConnections();
        setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS).unref();
      });
    },
  };
}

/** A wildcard address is not one to browse to; an IPv6 literal needs brackets in a URL. */
function displayHost(host: string): string {
  if (host === "0.0.0.0" || host === "::" || host === "") return "127.0.0.1";
  return host.includes(":") ? `[${host}]` : host;
}
