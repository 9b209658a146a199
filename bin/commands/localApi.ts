// With PGlite, the database belongs to the running `updraft start` process. CLI commands that
// write (trigger) then go through that process's REST API, with a token signed by the same key.
import fs from "node:fs";
import path from "node:path";
import { SignJWT } from "jose";
import type { Config } from "../../engine/config.js";
import { resolveSecretKey } from "../../engine/secretKey.js";

export const SERVER_FILE = "server.json";

export function runningServer(config: Config): { url: string; pid: number } | null {
  const file = path.join(config.home, SERVER_FILE);
  if (!fs.existsSync(file)) return null;
  try {
    const info = JSON.parse(fs.readFileSync(file, "utf8")) as { url: string; pid: number };
    process.kill(info.pid, 0); // throws when that process is gone
    return info;
  } catch {
    return null;
  }
}

export async function localAdminToken(config: Config): Promise<string> {
  const key = new TextEncoder().encode(resolveSecretKey(config));
  return new SignJWT({ role: "admin" }).setProtectedHeader({ alg: "HS256" }).setSubject("admin").setIssuedAt().setExpirationTime("5m").sign(key);
}
