// Bundles are imported from files named by their hash: written once, never changed, shared by the
// DAG processor and every runner of this machine.
import fs from "node:fs";
import path from "node:path";

export function bundlePath(cacheDir: string, codeHash: string): string {
  return path.join(cacheDir, `${codeHash}.mjs`);
}

export function ensureBundleFile(cacheDir: string, codeHash: string, bundle: string): string {
  const file = bundlePath(cacheDir, codeHash);
  if (!fs.existsSync(file)) {
    fs.mkdirSync(cacheDir, { recursive: true });
    // Write then rename: a concurrent reader never sees half a file.
    const tmp = `${file}.${process.pid}.${Date.now()}.tmp`;
    fs.writeFileSync(tmp, bundle);
    fs.renameSync(tmp, file);
  }
  return file;
}
