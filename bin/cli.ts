// The `updraft` CLI (commander): a thin entry into each component's main.
import v8 from "node:v8";
import { Command, Option } from "commander";
import { loadConfig, ConfigError, type Config } from "../engine/config.js";
import { createLogger } from "../engine/logger.js";
import { UpdraftError } from "../engine/errors.js";

// Commands load their modules on use, so `updraft dags test` does not start up the web server's.
const serve = () => import("./commands/serve.js");
const dagsCommands = () => import("./commands/dags.js");

const program = new Command("updraft").description("Airflow-style DAG orchestration on PostgreSQL").showHelpAfterError();

function config(): Config {
  return loadConfig();
}

program
  .command("start")
  .description("migrations, scheduler, web server and one worker in one process (standalone)")
  .action(async () => {
    // The standalone process holds everything (scheduler, worker, web server, the PGlite
    // database), and its memory is the figure a user sees (issue 9: ≤ 200 MB idle). V8 favours
    // size over speed from here on: smaller heap growth and less inlining. Measured (first start,
    // example DAGs, PGlite, main process RSS, with bin/v8Flags.js's command-line settings):
    // 213–222 → 195–205 MB; the PGlite chain benchmark ran 5–15 % slower with the flag in an A/B
    // (noisy). Only `start`: a distributed worker or scheduler keeps V8's speed.
    v8.setFlagsFromString("--optimize-for-size");
    return (await serve()).startCommand(config());
  });

program
  .command("scheduler")
  .description("run the scheduler (DAG processor, run creation, retries, reaper)")
  .action(async () => (await serve()).schedulerCommand(config()));

program
  .command("worker")
  .description("run a worker (needs DATABASE_URL)")
  .addOption(new Option("--slots <n>", "tasks to run at once").argParser((v) => positive(v, "--slots")))
  .option("--queues <list>", "comma-separated queues to take tasks from")
  .action(async (opts: { slots?: number; queues?: string }) =>
    (await serve()).workerCommand(config(), { slots: opts.slots, queues: opts.queues?.split(",").map((q) => q.trim()).filter(Boolean) }),
  );

program
  .command("web")
  .description("run the web server (REST API)")
  .action(async () => (await serve()).webCommand(config()));

const db = program.command("db").description("database commands");
db.command("migrate")
  .description("apply pending migrations")
  .action(async () => (await import("./commands/db.js")).migrateCommand(config()));

const users = program.command("users").description("accounts that log in to the API and UI");
users
  .command("create <username>")
  .description("create a user; without --password a random one is generated and printed once")
  .addOption(new Option("--role <role>", "what the user may do").choices(["viewer", "operator", "admin"]).makeOptionMandatory())
  .option("--password <password>", "the password (visible in the process list: prefer --password-stdin)")
  .option("--password-stdin", "read the password from standard input")
  .action(async (username: string, opts: { role: string; password?: string; passwordStdin?: boolean }) => (await import("./commands/users.js")).usersCreateCommand(config(), username, opts));
users
  .command("list")
  .description("list users and their roles")
  .option("--output <format>", "table or json", "table")
  .action(async (opts: { output: string }) => (await import("./commands/users.js")).usersListCommand(config(), opts.output === "json"));
users
  .command("delete <username>")
  .description("delete a user")
  .action(async (username: string) => (await import("./commands/users.js")).usersDeleteCommand(config(), username));

const dags = program.command("dags").description("DAG commands");
dags
  .command("list")
  .description("parse the DAGs folder and list its DAGs and import errors")
  .option("--output <format>", "table or json", "table")
  .action(async (opts: { output: string }) => (await dagsCommands()).dagsListCommand(config(), opts.output === "json"));
dags
  .command("trigger <dag_id>")
  .description("create a manual run")
  .option("--conf <json>", "run configuration, a JSON object")
  .option("--run-id <id>", "run id (default manual__<date>)")
  .option("--logical-date <date>", "logical date (default now)")
  .action(async (dagId: string, opts: { conf?: string; runId?: string; logicalDate?: string }) => (await dagsCommands()).dagsTriggerCommand(config(), dagId, opts));
dags
  .command("test <dag_id>")
  .description("run one DAG run in this process, printing each task's state and log")
  .option("--date <date>", "logical date (default now)")
  .option("--conf <json>", "run configuration, a JSON object")
  .action(async (dagId: string, opts: { date?: string; conf?: string }) => (await dagsCommands()).dagsTestCommand(config(), dagId, opts));

dags
  .command("backfill <dag_id>")
  .description("run the DAG for every schedule interval whose logical date is in [--from, --to] (the scheduler runs it)")
  .requiredOption("--from <date>", "first logical date (ISO 8601; a bare date is midnight UTC)")
  .requiredOption("--to <date>", "last logical date")
  .addOption(new Option("--reprocess <behavior>", "dates that already have a run: none skips them, failed re-runs failed ones, completed re-runs all").choices(["none", "failed", "completed"]).default("none"))
  .option("--dry-run", "list the logical dates it would run, and stop")
  .addOption(new Option("--max-active-runs <n>", "runs of this backfill at once (default 10)").argParser((v) => positive(v, "--max-active-runs")))
  .option("--run-backwards", "newest date first")
  .option("--conf <json>", "conf of every run, a JSON object")
  .option("--no-wait", "return once created instead of following its progress")
  .action(async (dagId: string, opts: { from: string; to: string; reprocess: string; dryRun?: boolean; maxActiveRuns?: number; runBackwards?: boolean; conf?: string; wait: boolean }) =>
    (await import("./commands/backfill.js")).dagsBackfillCommand(config(), dagId, { ...opts, noWait: !opts.wait }),
  );

function positive(value: string, flag: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(value)}`);
  return n;
}

export class UsageError extends Error {}

try {
  await program.parseAsync(process.argv);
} catch (err) {
  // One clear line for what the user can fix; a stack only for the unexpected.
  if (err instanceof ConfigError || err instanceof UsageError || err instanceof UpdraftError) {
    console.error(`updraft: ${err.message}`);
    process.exit(2);
  }
  createLogger("error").error({ err }, "updraft failed");
  process.exit(1);
}
