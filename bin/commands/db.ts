import type { Config } from "../../engine/config.js";
import { migrate } from "../../engine/store/migrate.js";
import { openStoreFromConfig } from "../../engine/store/openFromConfig.js";

export async function migrateCommand(config: Config): Promise<void> {
  const store = await openStoreFromConfig(config, "updraft-migrate");
  try {
    const ran = await migrate(store);
    console.log(ran.length ? `applied ${ran.length} migration(s): ${ran.join(", ")}` : "the database schema is up to date");
  } finally {
    await store.close();
  }
}
