// The key that signs API tokens. Every web server (and the CLI, which signs its own short-lived
// token for `updraft start`'s API) must use the same one: UPDRAFT_SECRET_KEY when set, otherwise a
// random key generated once and kept in `$UPDRAFT_HOME/secret_key`, readable by its owner only.
import { randomBytes } from "node:crypto";
import fs from "node:fs";
import path from "node:path";
import { ConfigError, type Config } from "./config.js";

export const SECRET_KEY_FILE = "secret_key";
/** Same floor as the UPDRAFT_SECRET_KEY schema in config.ts. */
const MIN_LENGTH = 16;

export function resolveSecretKey(config: Pick<Config, "secretKey" | "home">): string {
  if (config.secretKey) return config.secretKey;
  fs.mkdirSync(config.home, { recursive: true });
  const file = path.join(config.home, SECRET_KEY_FILE);
  if (!fs.existsSync(file)) createKeyFile(file);
  const key = fs.readFileSync(file, "utf8").trim();
  if (key.length < MIN_LENGTH) throw new ConfigError(`invalid secret key in ${file}: shorter than ${MIN_LENGTH} characters (delete the file to generate a new one)`);
  return key;
}

/**
 * Written whole to a temporary file, then linked into place: link() fails if the name exists, so
 * of two processes starting together exactly one key wins, and nobody ever reads a half-written file.
 */
function createKeyFile(file: string): void {
  const tmp = `${file}.${process.pid}.${randomBytes(4).toString("hex")}`;
  fs.writeFileSync(tmp, `${randomBytes(32).toString("hex")}\n`, { mode: 0o600 });
  try {
    fs.linkSync(tmp, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    fs.rmSync(tmp, { force: true });
  }
}
