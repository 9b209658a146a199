// The graph: the DAG's structure laid out by dagre, drawn by @xyflow/react, nodes coloured by the
// chosen run's TI states (live); clicking a node opens that task instance.
import dagre from "@dagrejs/dagre";
import { applyNodeChanges, Background, Controls, Position, ReactFlow, type Edge, type Node, type NodeChange } from "@xyflow/react";
import "@xyflow/react/dist/style.css";
import { useCallback, useEffect, useMemo, useState } from "react";
import { useNavigate, useSearchParams } from "react-router-dom";
import { enc } from "../../api/client";
import type { Structure } from "../../api/types";
import { useApi } from "../../api/useApi";
import { ErrorState, Loading } from "../../components/Status";
import { RunPicker } from "./RunPicker";
import { useLatestRunId, useRunTis } from "./useRunTis";

const NODE_W = 180;
const NODE_H = 40;

/**
 * dagre's graphlib keeps nodes in plain objects: a task named `toString` or `constructor` would
 * find Object.prototype's member and break the layout, so node keys get a prefix.
 */
const key = (taskId: string) => `task:${taskId}`;

function layout(structure: Structure): { nodes: Node[]; edges: Edge[] } {
  const g = new dagre.graphlib.Graph();
  g.setGraph({ rankdir: "LR", nodesep: 20, ranksep: 60 });
  g.setDefaultEdgeLabel(() => ({}));
  for (const t of structure.tasks) g.setNode(key(t.task_id), { width: NODE_W, height: NODE_H });
  for (const t of structure.tasks) for (const d of t.downstream) g.setEdge(key(t.task_id), key(d));
  dagre.layout(g);
  const nodes: Node[] = structure.tasks.map((t) => {
    const p = g.node(key(t.task_id));
    return { id: t.task_id, position: { x: p.x - NODE_W / 2, y: p.y - NODE_H / 2 }, data: { label: t.task_id }, style: { width: NODE_W }, sourcePosition: Position.Right, targetPosition: Position.Left };
  });
  const edges: Edge[] = structure.tasks.flatMap((t) => t.downstream.map((d) => ({ id: `${t.task_id}->${d}`, source: t.task_id, target: d })));
  return { nodes, edges };
}

export function GraphTab({ dagId }: { dagId: string }) {
  const [params] = useSearchParams();
  const structure = useApi<Structure>(`/ui/structure/${enc(dagId)}`);
  const { runId, runs } = useLatestRunId(dagId, params.get("run"));
  const { tis } = useRunTis(dagId, runId);
  const navigate = useNavigate();
  const base = useMemo(() => (structure.data ? layout(structure.data) : null), [structure.data]);
  const states = useMemo(() => new Map(tis.map((t) => [t.task_id, t.state])), [tis]);

  // React Flow measures nodes through onNodesChange: keep them in state, restyled on each TI change.
  const [nodes, setNodes] = useState<Node[]>([]);
  useEffect(() => {
    if (!base) return;
    setNodes((prev) => {
      const measured = new Map(prev.map((n) => [n.id, n.measured]));
      return base.nodes.map((n) => ({ ...n, measured: measured.get(n.id), className: `flow-node state-${states.get(n.id) ?? "none"}` }));
    });
  }, [base, states]);
  const onNodesChange = useCallback((changes: NodeChange[]) => setNodes((n) => applyNodeChanges(changes, n)), []);

  if (structure.error) return <ErrorState error={structure.error} onRetry={structure.reload} />;
  if (!base) return <Loading what="graph" />;
  return (
    <div>
      <RunPicker runs={runs} runId={runId} />
      <div className="graph" data-testid="graph">
        <ReactFlow
          nodes={nodes}
          edges={base.edges}
          onNodesChange={onNodesChange}
          fitView
          nodesDraggable={false}
          nodesConnectable={false}
          onNodeClick={(_e, node) => runId && navigate(`/dags/${enc(dagId)}/runs/${enc(runId)}/tasks/${enc(node.id)}`)}
          proOptions={{ hideAttribution: true }}
        >
          <Background />
          <Controls />
        </ReactFlow>
      </div>
    </div>
  );
}
