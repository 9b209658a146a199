// The built UI (web/ui/dist) for the scenarios that serve it: built first when missing or older
// than its sources — in a child process, so that vite's memory never counts in a figure (and
// before `updraft start`, which would otherwise build it in its own process at first start).
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const UI = path.join(REPO, "web/ui");

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

export function ensureUiBuilt(log: (m: string) => void): void {
  const index = path.join(UI, "dist", "index.html");
  if (fs.existsSync(index) && fs.statSync(index).mtimeMs >= newestSource(UI)) return;
  log("building the web UI (npm run build)");
  const res = spawnSync("npm", ["run", "build", "--silent"], { cwd: REPO, stdio: ["ignore", "ignore", "pipe"], encoding: "utf8", timeout: 300_000 });
  if (res.status !== 0) throw new Error(`npm run build failed: ${res.stderr?.slice(-2000) ?? res.error?.message}`);
}
