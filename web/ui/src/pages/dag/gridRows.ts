// The grid's rows from /ui/grid's task_ids and groups: task groups (d.group, paths like
// `outer.inner`) become header rows above their tasks, collapsible; a group's cell per run shows
// the most telling state of its tasks' cells, as a mapped task's cell does on the server.
// Without groups this is one row per task in the server's order: nothing else to compute.

export type GridRow = { kind: "task"; task: number; depth: number } | { kind: "group"; path: string; depth: number; collapsed: boolean };

interface GroupNode {
  path: string;
  children: (number | GroupNode)[];
  /** Every task index under the group, nested groups' included. */
  members: number[];
}

export interface GroupTree {
  top: (number | GroupNode)[];
  groups: Map<string, GroupNode>;
}

/** Groups in the order their first task appears; a group's tasks and subgroups under it. */
export function groupTree(taskCount: number, groups: (string | null)[] | undefined): GroupTree {
  const tree: GroupTree = { top: [], groups: new Map() };
  const node = (path: string): GroupNode => {
    let n = tree.groups.get(path);
    if (n) return n;
    n = { path, children: [], members: [] };
    tree.groups.set(path, n);
    const dot = path.lastIndexOf(".");
    (dot < 0 ? tree.top : node(path.slice(0, dot)).children).push(n);
    return n;
  };
  for (let i = 0; i < taskCount; i++) {
    const g = groups?.[i];
    if (!g) {
      tree.top.push(i);
      continue;
    }
    node(g).children.push(i);
    for (let p = g; ; p = p.slice(0, p.lastIndexOf("."))) {
      tree.groups.get(p)!.members.push(i);
      if (!p.includes(".")) break;
    }
  }
  return tree;
}

/** The rows shown: a collapsed group hides everything under it. */
export function visibleRows(tree: GroupTree, collapsed: ReadonlySet<string>): GridRow[] {
  const rows: GridRow[] = [];
  const walk = (items: (number | GroupNode)[], depth: number) => {
    for (const item of items) {
      if (typeof item === "number") {
        rows.push({ kind: "task", task: item, depth });
        continue;
      }
      const isCollapsed = collapsed.has(item.path);
      rows.push({ kind: "group", path: item.path, depth, collapsed: isCollapsed });
      if (!isCollapsed) walk(item.children, depth + 1);
    }
  };
  walk(tree.top, 0);
  return rows;
}

/** Which state a summary cell shows: the first present, in Airflow's grid order (as the server's). */
export const SUMMARY_ORDER = ["failed", "upstream_failed", "up_for_retry", "up_for_reschedule", "queued", "scheduled", "running", "restarting", "none", "success", "skipped", "removed"];

/** Per group, per run: the state code its header cell shows (`-` when none of its tasks has a TI). */
export function groupSummaries(tree: GroupTree, cells: string[], legend: Record<string, string>): Map<string, string[]> {
  const rank = new Map(SUMMARY_ORDER.map((s, i) => [legend[s] ?? s, i]));
  const absent = legend.absent ?? "-";
  const out = new Map<string, string[]>();
  for (const [path, group] of tree.groups) {
    out.set(
      path,
      cells.map((row) => {
        let best = absent;
        let bestRank = Infinity;
        for (const t of group.members) {
          const code = row[t] ?? absent;
          const r = rank.get(code);
          if (r !== undefined && r < bestRank) {
            best = code;
            bestRank = r;
          }
        }
        return best;
      }),
    );
  }
  return out;
}

/** "3 success, 1 failed" from a mapped cell's counts by state code. */
export function describeCounts(counts: Record<string, number>, decode: Record<string, string>): string {
  return Object.entries(counts)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${n} ${decode[code] ?? code}`)
    .join(", ");
}
