import path from "node:path";
import { fileURLToPath } from "node:url";

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
export const PGLITE_SNAPSHOT = (hash: string) => path.join(ROOT, "node_modules", ".cache", "updraft-test", `pglite-${hash}.tar`);
export const TEMPLATE_ENV = "UPDRAFT_TEST_PG_TEMPLATE";
