// Which files of the DAGs folder are DAG files.
import fs from "node:fs";
import path from "node:path";

const DAG_FILE = /\.(m?ts|m?js)$/;
const NOT_DAG_FILE = /(\.d\.ts|\.test\.[mc]?[tj]s|\.spec\.[mc]?[tj]s)$/;

/** Like Airflow's safe mode: only files that mention updraft are treated as DAG files. */
export function isDagFile(file: string): boolean {
  if (!DAG_FILE.test(file) || NOT_DAG_FILE.test(file) || file.split(path.sep).includes("node_modules")) return false;
  try {
    return mentionsUpdraft(file);
  } catch {
    return false;
  }
}

const WORD = Buffer.from("updraft");
const CHUNK_BYTES = 1024 * 1024;

/**
 * Read a chunk at a time, so that a huge file (refused later for its size, engine/dagfile/bundle.ts)
 * costs a megabyte of memory here, not its size; most files answer in the first chunk.
 */
function mentionsUpdraft(file: string): boolean {
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.alloc(CHUNK_BYTES + WORD.length - 1);
    let kept = 0;
    for (;;) {
      const n = fs.readSync(fd, buf, kept, CHUNK_BYTES, null);
      if (n === 0) return false;
      const end = kept + n;
      if (buf.subarray(0, end).includes(WORD)) return true;
      // The word may straddle two chunks: keep the tail.
      kept = Math.min(WORD.length - 1, end);
      buf.copy(buf, 0, end - kept, end);
    }
  } finally {
    fs.closeSync(fd);
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
