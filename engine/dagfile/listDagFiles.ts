// Which files of the DAGs folder are DAG files.
import fs from "node:fs";
import path from "node:path";

const DAG_FILE = /\.(m?ts|m?js)$/;
const NOT_DAG_FILE = /(\.d\.ts|\.test\.[mc]?[tj]s|\.spec\.[mc]?[tj]s)$/;

/** Like Airflow's safe mode: only files that mention updraft are treated as DAG files. */
export function isDagFile(file: string): boolean {
  if (!DAG_FILE.test(file) || NOT_DAG_FILE.test(file) || file.split(path.sep).includes("node_modules")) return false;
  try {
    return fs.readFileSync(file, "utf8").includes("updraft");
  } catch {
    return false;
  }
}

export function listDagFiles(folder: string): string[] {
  if (!fs.existsSync(folder)) return [];
  const out: string[] = [];
  const walk = (dir: string) => {
    for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) {
        if (entry.name !== "node_modules" && !entry.name.startsWith(".")) walk(full);
      } else if (isDagFile(full)) out.push(full);
    }
  };
  walk(folder);
  return out.sort();
}
