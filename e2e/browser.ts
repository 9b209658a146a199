// Where the e2e suite finds Chromium, and whether it must run: in CI always (a missing browser
// fails the suite), elsewhere only when the browser is installed.
import fs from "node:fs";
import { chromium, type Browser } from "playwright-core";

export const IN_CI = process.env.CI === "true" || process.env.CI === "1";
export const CHROMIUM_PATH = process.env.UPDRAFT_CHROMIUM ?? "/usr/bin/chromium";
export const RUN_E2E = IN_CI || fs.existsSync(CHROMIUM_PATH);

export function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: CHROMIUM_PATH,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--no-first-run"],
  });
}
