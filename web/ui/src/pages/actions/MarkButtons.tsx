// Mark a TI (PATCH …/taskInstances/{task} {new_state}) or a run (PATCH …/dagRuns/{run} {state})
// as success or failed.
import { api, enc } from "../../api/client";
import { ActionButton } from "../../components/ActionButton";

export function MarkButtons({ dagId, runId, taskId, mapIndex = -1, onDone }: { dagId: string; runId: string; taskId?: string; mapIndex?: number; onDone: () => void }) {
  const mark = async (state: "success" | "failed") => {
    if (taskId) await api(`/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}/taskInstances/${enc(taskId)}${mapIndex >= 0 ? `/${mapIndex}` : ""}`, { method: "PATCH", body: { new_state: state } });
    else await api(`/api/v2/dags/${enc(dagId)}/dagRuns/${enc(runId)}`, { method: "PATCH", body: { state } });
    onDone();
  };
  return (
    <>
      <ActionButton label="Mark success" className="ok" onRun={() => mark("success")} testId="mark-success" />
      <ActionButton label="Mark failed" className="danger" onRun={() => mark("failed")} testId="mark-failed" />
    </>
  );
}
