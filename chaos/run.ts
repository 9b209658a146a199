// `npm run chaos [-- --quick] [scenario filters…]`: runs the fault-injection suite with vitest;
// `--quick` (or CHAOS_QUICK=1) is the short form CI runs.
import { spawnSync } from "node:child_process";

const args = process.argv.slice(2);
const quick = args.includes("--quick") || process.env.CHAOS_QUICK === "1";
const rest = args.filter((a) => a !== "--quick");
const result = spawnSync("npx", ["vitest", "run", "--config", "chaos/vitest.config.ts", ...rest], {
  stdio: "inherit",
  env: { ...process.env, CHAOS_QUICK: quick ? "1" : "0" },
});
process.exit(result.status ?? 1);
