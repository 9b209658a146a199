// An Updraft in the test process for the browser tests: PGlite, scheduler + worker over a DAGs
// folder, and the real web server (API, socket.io, built UI) on a free port; users of each role.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import type { Browser, BrowserContext, Page } from "playwright-core";
import { loadConfig } from "../engine/config.js";
import { createLogger } from "../engine/logger.js";
import { createUser } from "../engine/store/users/createUser.js";
import { ensureAdminUser } from "../engine/store/users/ensureAdminUser.js";
import { startWebServer, type WebServer } from "../web/server/main.js";
import { createTestDatabase, type TestDatabase } from "../test/helpers/db.js";
import { dagsFolderWith, startEngine, type TestEngine } from "../test/helpers/engine.js";
import { launchBrowser } from "./browser.js";

export const SCREENSHOTS = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "screenshots");
export const PASSWORDS = { admin: "admin-password-e2e", operator: "operator-password", viewer: "viewer-password" } as const;

export interface Harness {
  db: TestDatabase;
  engine: TestEngine;
  web: WebServer;
  browser: Browser;
  url: string;
  stop(): Promise<void>;
}

export async function startHarness(dagFiles: Record<string, string>): Promise<Harness> {
  const db = await createTestDatabase("pglite");
  await ensureAdminUser(db.store.db, PASSWORDS.admin);
  await createUser(db.store.db, { username: "operator", password: PASSWORDS.operator, role: "operator" });
  await createUser(db.store.db, { username: "viewer", password: PASSWORDS.viewer, role: "viewer" });
  const engine = await startEngine(db.store, { dagsFolder: dagsFolderWith(dagFiles), slots: 4 });
  const logger = createLogger(process.env.UPDRAFT_TEST_LOG_LEVEL ?? "silent");
  const config = loadConfig({}, { port: 0, host: "127.0.0.1", logLevel: "silent" });
  const web = await startWebServer(db.store, { ...config, secretKey: "e2e-secret-key-0123456789abcdef" }, logger);
  const browser = await launchBrowser();
  fs.mkdirSync(SCREENSHOTS, { recursive: true });
  return {
    db,
    engine,
    web,
    browser,
    url: web.url,
    async stop() {
      await browser.close();
      await web.close();
      await engine.stop();
      fs.rmSync(engine.dagsFolder, { recursive: true, force: true });
      await db.drop();
    },
  };
}

/** A fresh browser context logged in through the login form. */
export async function loginPage(h: Harness, username: keyof typeof PASSWORDS, options: { dark?: boolean } = {}): Promise<{ context: BrowserContext; page: Page; errors: string[] }> {
  const context = await h.browser.newContext({ viewport: { width: 1280, height: 860 }, colorScheme: options.dark ? "dark" : "light" });
  const page = await context.newPage();
  const errors: string[] = [];
  page.on("pageerror", (err) => errors.push(err.message));
  await page.goto(`${h.url}/dags`);
  await page.getByLabel("Username").fill(username);
  await page.getByLabel("Password").fill(PASSWORDS[username]);
  await page.getByRole("button", { name: "Log in" }).click();
  await page.getByRole("heading", { name: "DAGs" }).waitFor();
  return { context, page, errors };
}

export async function screenshot(page: Page, name: string): Promise<void> {
  await page.screenshot({ path: path.join(SCREENSHOTS, `${name}.png`), fullPage: false });
}

/** Calls the API from inside the page with the page's own token (as a script on the page could). */
export function apiFromPage(page: Page, method: string, url: string, body?: unknown): Promise<{ status: number; body: unknown }> {
  return page.evaluate(
    async ({ method, url, body }) => {
      const token = (globalThis as unknown as { sessionStorage: { getItem(key: string): string | null } }).sessionStorage.getItem("updraft.token");
      const res = await fetch(url, {
        method,
        headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
      const text = await res.text();
      let parsed: unknown = text;
      try {
        parsed = JSON.parse(text);
      } catch {
        /* not JSON */
      }
      return { status: res.status, body: parsed };
    },
    { method, url, body },
  );
}
