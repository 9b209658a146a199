// The git commit a DAGs folder is checked out at, recorded as each DAG version's bundle_version.
// Read from .git directly (HEAD, loose refs, packed-refs): no git binary needed, and cheap enough
// to do for every parsed file.
import fs from "node:fs";
import path from "node:path";

/** The .git directory of the checkout containing `folder`, or null. */
function findGitDir(folder: string): string | null {
  for (let dir = path.resolve(folder); ; dir = path.dirname(dir)) {
    const candidate = path.join(dir, ".git");
    if (fs.existsSync(candidate)) {
      if (fs.statSync(candidate).isDirectory()) return candidate;
      // A worktree or submodule: `.git` is a file saying `gitdir: <path>`.
      const pointer = /^gitdir: (.+)$/m.exec(fs.readFileSync(candidate, "utf8"))?.[1]?.trim();
      return pointer ? path.resolve(dir, pointer) : null;
    }
    if (path.dirname(dir) === dir) return null;
  }
}

/** The commit sha HEAD points at, or null when `folder` is not in a git checkout (or HEAD is unborn). */
export function gitCommit(folder: string): string | null {
  try {
    const gitDir = findGitDir(folder);
    if (!gitDir) return null;
    const head = fs.readFileSync(path.join(gitDir, "HEAD"), "utf8").trim();
    if (/^[0-9a-f]{40}$/.test(head)) return head; // detached
    const ref = /^ref: (.+)$/.exec(head)?.[1];
    if (!ref) return null;
    // Worktrees keep refs in the common dir.
    const commonFile = path.join(gitDir, "commondir");
    const common = fs.existsSync(commonFile) ? path.resolve(gitDir, fs.readFileSync(commonFile, "utf8").trim()) : gitDir;
    for (const dir of [gitDir, common]) {
      const loose = path.join(dir, ref);
      if (fs.existsSync(loose)) return fs.readFileSync(loose, "utf8").trim();
    }
    const packed = path.join(common, "packed-refs");
    if (fs.existsSync(packed)) {
      for (const line of fs.readFileSync(packed, "utf8").split("\n")) {
        const [sha, name] = line.split(" ");
        if (name === ref && sha && /^[0-9a-f]{40}$/.test(sha)) return sha;
      }
    }
    return null;
  } catch {
    return null;
  }
}
