// Clears the figures of the previous run at the start; at the end writes them as a markdown
// table to chaos/results/latest.md (or latest-quick.md for the short form).
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { figuresFile, figuresTable, RESULTS_DIR, type Figure } from "./lib/figures.js";

export default function setup(): () => void {
  fs.rmSync(figuresFile(), { force: true });
  const startedAt = new Date();
  return () => {
    const file = figuresFile();
    const figures: Figure[] = fs.existsSync(file) ? fs.readFileSync(file, "utf8").trim().split("\n").filter(Boolean).map((l) => JSON.parse(l) as Figure) : [];
    const quick = process.env.CHAOS_QUICK === "1";
    const out = path.join(RESULTS_DIR, quick ? "latest-quick.md" : "latest.md");
    const header = `Fault-injection suite (\`npm run chaos${quick ? " -- --quick" : ""}\`), ${startedAt.toISOString()}, ${os.cpus().length} cores, load average ${os.loadavg()[0]!.toFixed(1)} at the end.`;
    fs.writeFileSync(out, `${header}\n\n${figuresTable(figures)}\n`);
    console.log(`\n${figuresTable(figures)}\n\nwritten to ${path.relative(process.cwd(), out)}`);
  };
}
