// Builds the UI once per `vitest run` when the e2e suite will run and web/ui/dist is older than
// its sources (the suite tests what `npm run build` produces, as the web server serves it).
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { CHROMIUM_PATH, RUN_E2E } from "./browser.js";

const UI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../web/ui");

function newestSource(dir: string): number {
  let newest = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== "dist" && entry.name !== "node_modules") newest = Math.max(newest, newestSource(p));
    } else newest = Math.max(newest, fs.statSync(p).mtimeMs);
  }
  return newest;
}

export default async function setup(): Promise<void> {
  if (!RUN_E2E) {
    console.log(`e2e: no Chromium at ${CHROMIUM_PATH} (set UPDRAFT_CHROMIUM): browser tests skip`);
    return;
  }
  const index = path.join(UI, "dist", "index.html");
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= newestSource(UI)) return;
  const { build } = await import("vite");
  await build({ configFile: path.join(UI, "vite.config.ts"), logLevel: "warn" });
}
