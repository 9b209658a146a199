// Admin pages: pools (slots used/queued), variables, connections (secrets never shown), workers,
// users and the audit log — each as far as the API offers it. Pools and variables have admin
// forms (AdminForms.tsx).
import { useParams } from "react-router-dom";
import { fmtDate } from "../../components/format";
import { StateDot } from "../../components/StateBadge";
import { PoolsAdmin, VariablesAdmin } from "./AdminForms";
import { AdminTable } from "./AdminTable";

interface Connection {
  connection_id: string;
  conn_type: string;
  host: string | null;
  login: string | null;
  schema: string | null;
  port: number | null;
  description: string | null;
}
interface WorkerRow {
  worker_id: string;
  hostname: string;
  queues: string[];
  slots: number;
  slots_used: number;
  last_heartbeat: string;
  alive: boolean;
}
interface UserRow {
  username: string;
  role: string;
  created_at: string;
}
interface EventLog {
  event_log_id: number;
  when: string;
  owner: string | null;
  event: string;
  dag_id: string | null;
  run_id: string | null;
  task_id: string | null;
  extra: string | null;
}

const TITLES: Record<string, string> = { pools: "Pools", variables: "Variables", connections: "Connections", workers: "Workers", users: "Users", audit: "Audit log" };

export function AdminPage() {
  const { section = "pools" } = useParams();
  return (
    <section>
      <h1>{TITLES[section] ?? "Admin"}</h1>
      {section === "pools" && <PoolsAdmin />}
      {section === "variables" && <VariablesAdmin />}
      {section === "connections" && (
        <AdminTable<Connection>
          path="/api/v2/connections"
          listKey="connections"
          rowKey={(c) => c.connection_id}
          columns={[
            { title: "Connection", render: (c) => <code>{c.connection_id}</code> },
            { title: "Type", render: (c) => c.conn_type },
            { title: "Host", render: (c) => [c.host, c.port].filter((x) => x !== null && x !== undefined).join(":") },
            { title: "Login", render: (c) => c.login ?? "" },
            { title: "Schema", render: (c) => c.schema ?? "" },
            // The password is never rendered, whatever the API returns.
            { title: "Password", render: () => "••••••" },
          ]}
        />
      )}
      {section === "workers" && (
        <AdminTable<WorkerRow>
          path="/ui/workers"
          listKey="workers"
          paged={false}
          rowKey={(w) => w.worker_id}
          columns={[
            { title: "Alive", render: (w) => <StateDot state={w.alive ? "success" : "failed"} title={w.alive ? "alive" : "no heartbeat"} /> },
            { title: "Worker", render: (w) => <code>{w.worker_id}</code> },
            { title: "Host", render: (w) => w.hostname },
            { title: "Queues", render: (w) => w.queues.join(", ") },
            { title: "Slots used", render: (w) => `${w.slots_used} / ${w.slots}` },
            { title: "Last heartbeat", render: (w) => fmtDate(w.last_heartbeat) },
          ]}
        />
      )}
      {section === "users" && (
        <AdminTable<UserRow>
          path="/ui/users"
          listKey="users"
          paged={false}
          rowKey={(u) => u.username}
          columns={[
            { title: "User", render: (u) => u.username },
            { title: "Role", render: (u) => u.role },
            { title: "Created", render: (u) => fmtDate(u.created_at) },
          ]}
        />
      )}
      {section === "audit" && (
        <AdminTable<EventLog>
          path="/api/v2/eventLogs"
          listKey="event_logs"
          rowKey={(e) => String(e.event_log_id)}
          columns={[
            { title: "When", render: (e) => fmtDate(e.when) },
            { title: "Who", render: (e) => e.owner ?? "" },
            { title: "Event", render: (e) => e.event },
            { title: "DAG / run / task", render: (e) => [e.dag_id, e.run_id, e.task_id].filter(Boolean).join(" / ") },
          ]}
        />
      )}
    </section>
  );
}
