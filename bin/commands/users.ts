// `updraft users create|list|delete`: managing the accounts that log in to the API and UI (as
// Airflow's `airflow users …`). Passwords are hashed by the store; a generated one is printed once.
import { randomBytes } from "node:crypto";
import type { Config } from "../../engine/config.js";
import { UpdraftError } from "../../engine/errors.js";
import type { Store } from "../../engine/store/db.js";
import { migrate } from "../../engine/store/migrate.js";
import { openStoreFromConfig } from "../../engine/store/openFromConfig.js";
import { createUser } from "../../engine/store/users/createUser.js";
import { deleteUser } from "../../engine/store/users/deleteUser.js";
import { listUsers } from "../../engine/store/users/listUsers.js";
import { isRole } from "../../engine/store/users/roles.js";

async function withStore<T>(config: Config, fn: (store: Store) => Promise<T>): Promise<T> {
  const store = await openStoreFromConfig(config, "updraft-users");
  try {
    // A fresh standalone home has no schema yet; applying migrations is safe at any time (advisory lock).
    await migrate(store);
    return await fn(store);
  } finally {
    await store.close();
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString("utf8").replace(/\r?\n$/, "");
}

export async function usersCreateCommand(config: Config, username: string, opts: { role: string; password?: string; passwordStdin?: boolean }): Promise<void> {
  if (!isRole(opts.role)) throw new UpdraftError(`--role must be viewer, operator or admin, got ${JSON.stringify(opts.role)}`, "usage", 2);
  if (opts.password !== undefined && opts.passwordStdin) throw new UpdraftError("give --password or --password-stdin, not both", "usage", 2);
  const generated = opts.password === undefined && !opts.passwordStdin;
  const password = opts.passwordStdin ? await readStdin() : (opts.password ?? randomBytes(12).toString("base64url"));
  const user = await withStore(config, (store) => createUser(store.db, { username, password, role: opts.role as "viewer" }));
  console.log(`created user ${user.username} (${user.role})${generated ? ` with password ${password}` : ""}`);
}

export async function usersListCommand(config: Config, json: boolean): Promise<void> {
  const users = await withStore(config, (store) => listUsers(store.db));
  if (json) {
    console.log(JSON.stringify(users.map((u) => ({ username: u.username, role: u.role, created_at: u.createdAt.toISOString() }))));
    return;
  }
  const width = Math.max(8, ...users.map((u) => u.username.length));
  console.log(`${"username".padEnd(width)}  role      created`);
  for (const u of users) console.log(`${u.username.padEnd(width)}  ${u.role.padEnd(8)}  ${u.createdAt.toISOString()}`);
}

export async function usersDeleteCommand(config: Config, username: string): Promise<void> {
  await withStore(config, (store) => deleteUser(store.db, username));
  console.log(`deleted user ${username} (tokens already issued stay valid until they expire)`);
}
