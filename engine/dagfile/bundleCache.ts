// Bundles are imported from files named by their hash: written once, never changed, shared by the
// DAG processor and every runner of this machine.
import fs from "node:fs";
import fsp from "node:fs/promises";
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

/** As ensureBundleFile, off the main thread: a cold start writes a thousand of them while the database works. */
export async function ensureBundleFileAsync(cacheDir: string, codeHash: string, bundle: string): Promise<string> {
  const file = bundlePath(cacheDir, codeHash);
  const exists = await fsp.access(file).then(
    () => true,
    () => false,
  );
  if (!exists) {
    await fsp.mkdir(cacheDir, { recursive: true });
    const tmp = `${file}.${process.pid}.${Date.now()}.${Math.random().toString(36).slice(2)}.tmp`;
    await fsp.writeFile(tmp, bundle);
    await fsp.rename(tmp, file);
  }
  return file;
}
