// A PostgreSQL server of a test's own, for tests that stop, restart or kill the database: initdb +
// pg_ctl from /usr/lib/postgresql/*/bin, run as the `postgres` OS user, in a temp dir, on a spare
// loopback port. Never the shared server on 5432 — other test files are using it.
import { execFileSync, spawnSync } from "node:child_process";
import fs from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";

export interface PrivatePostgres {
  url: string;
  port: number;
  /** Stops the server (fast mode: clients are disconnected with 57P01 admin_shutdown). */
  stopServer(): void;
  startServer(): void;
  /** stopServer, then `downMs` refusing connections, then startServer. */
  restart(downMs?: number): Promise<void>;
  /** Stops the server for good and deletes its directory. Safe to call twice. */
  destroy(): void;
}

/** The newest installed PostgreSQL's bin directory, or null if there is none. */
export function postgresBinDir(): string | null {
  const root = "/usr/lib/postgresql";
  if (!fs.existsSync(root)) return null;
  const versions = fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, "bin", "initdb"))).sort((a, b) => Number(b) - Number(a));
  return versions[0] ? path.join(root, versions[0], "bin") : null;
}

/** Can this machine start a private server (binaries present, and we can become `postgres`)? */
export function canStartPrivatePostgres(): boolean {
  if (!postgresBinDir()) return false;
  const self = os.userInfo().username;
  return self === "postgres" || (process.getuid?.() === 0 && spawnSync("id", ["postgres"]).status === 0);
}

function asPostgres(bin: string, args: string[]): string {
  const self = os.userInfo().username;
  const [cmd, argv] = self === "postgres" ? [bin, args] : ["runuser", ["-u", "postgres", "--", bin, ...args]];
  return execFileSync(cmd, argv, { encoding: "utf8", stdio: ["ignore", "pipe", "pipe"], timeout: 60_000 });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const port = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(port));
    });
  });
}

export async function startPrivatePostgres(): Promise<PrivatePostgres> {
  const bin = postgresBinDir();
  if (!bin) throw new Error("no PostgreSQL binaries under /usr/lib/postgresql");
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "updraft-pg-"));
  fs.chmodSync(dir, 0o755);
  const data = path.join(dir, "data");
  const log = path.join(dir, "server.log");
  if (process.getuid?.() === 0) execFileSync("chown", ["postgres:postgres", dir]);
  const port = await freePort();
  // fsync off and a small footprint: a throwaway server on a 2-core machine shared with other tests.
  asPostgres(path.join(bin, "initdb"), ["-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8"]);
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=16MB -c max_connections=60`;
  let destroyed = false;
  const pgCtl = (...args: string[]) => asPostgres(path.join(bin, "pg_ctl"), ["-D", data, ...args]);
  const server: PrivatePostgres = {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    stopServer: () => void pgCtl("stop", "-m", "fast", "-w", "-t", "30"),
    startServer: () => void pgCtl("start", "-w", "-t", "60", "-l", log, "-o", options),
    async restart(downMs = 0) {
      server.stopServer();
      if (downMs) await new Promise((r) => setTimeout(r, downMs));
      server.startServer();
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        pgCtl("stop", "-m", "immediate", "-w", "-t", "30");
      } catch {
        // already stopped
      }
      fs.rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    server.startServer();
  } catch (err) {
    server.destroy();
    throw err;
  }
  return server;
}
