// Admin write forms: create, edit and delete pools and variables through /api/v2 (admin only —
// others get the read-only tables; the server refuses them anyway). The API's validation
// messages (422 naming the field, 409 duplicate, 400 default_pool) are shown as they come.
import { useState } from "react";
import { api, enc } from "../../api/client";
import { useCan } from "../../components/SessionContext";
import { AdminTable, type Column } from "./AdminTable";

export interface Pool {
  name: string;
  slots: number;
  occupied_slots: number;
  running_slots: number;
  queued_slots: number;
  open_slots: number;
  description: string | null;
}
export interface Variable {
  key: string;
  value: string;
  description: string | null;
  is_encrypted?: boolean;
}

/** The API masks secret-looking values with this; saving it back would overwrite the secret. */
const MASK = "***";

type Editing<T> = { mode: "create" } | { mode: "edit"; row: T } | null;

function useSubmit(onDone: () => void) {
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (call: () => Promise<unknown>) => {
    setBusy(true);
    setError(null);
    try {
      await call();
      onDone();
    } catch (e) {
      setError((e as Error).message);
    } finally {
      setBusy(false);
    }
  };
  return { error, busy, submit };
}

function FormShell({ title, testId, error, busy, onSubmit, onCancel, children }: { title: string; testId: string; error: string | null; busy: boolean; onSubmit: () => void; onCancel: () => void; children: React.ReactNode }) {
  return (
    <form
      className="card admin-form"
      data-testid={testId}
      onSubmit={(e) => {
        e.preventDefault();
        onSubmit();
      }}
    >
      <h3>{title}</h3>
      {children}
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
      <div className="form-buttons">
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Saving…" : "Save"}
        </button>
        <button type="button" onClick={onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}

function PoolForm({ editing, onDone, onCancel }: { editing: Exclude<Editing<Pool>, null>; onDone: () => void; onCancel: () => void }) {
  const row = editing.mode === "edit" ? editing.row : null;
  const [name, setName] = useState(row?.name ?? "");
  const [slots, setSlots] = useState(row ? String(row.slots) : "");
  const [description, setDescription] = useState(row?.description ?? "");
  const { error, busy, submit } = useSubmit(onDone);
  // A non-number goes to the API as typed, so that its 422 names the field.
  const slotsValue = slots.trim() !== "" && Number.isFinite(Number(slots)) ? Number(slots) : slots;
  return (
    <FormShell
      title={row ? `Edit pool ${row.name}` : "New pool"}
      testId="pool-form"
      error={error}
      busy={busy}
      onCancel={onCancel}
      onSubmit={() =>
        submit(() =>
          row
            ? // default_pool takes only slots (400 otherwise); other pools their description too.
              api(`/api/v2/pools/${enc(row.name)}?update_mask=slots${row.name === "default_pool" ? "" : "&update_mask=description"}`, {
                method: "PATCH",
                body: { slots: slotsValue, ...(row.name === "default_pool" ? {} : { description: description || null }) },
              })
            : api("/api/v2/pools", { method: "POST", body: { name, slots: slotsValue, description: description || null } }),
        )
      }
    >
      <label>
        Name
        <input name="name" value={name} onChange={(e) => setName(e.target.value)} disabled={!!row} required />
      </label>
      <label>
        Slots
        <input name="slots" inputMode="numeric" value={slots} onChange={(e) => setSlots(e.target.value)} />
      </label>
      <label>
        Description
        <input name="description" value={description} onChange={(e) => setDescription(e.target.value)} disabled={row?.name === "default_pool"} />
      </label>
    </FormShell>
  );
}

function VariableForm({ editing, onDone, onCancel }: { editing: Exclude<Editing<Variable>, null>; onDone: () => void; onCancel: () => void }) {
  const row = editing.mode === "edit" ? editing.row : null;
  const [key, setKey] = useState(row?.key ?? "");
  const [value, setValue] = useState(row?.value ?? "");
  const [description, setDescription] = useState(row?.description ?? "");
  const { error, busy, submit } = useSubmit(onDone);
  return (
    <FormShell
      title={row ? `Edit variable ${row.key}` : "New variable"}
      testId="variable-form"
      error={error}
      busy={busy}
      onCancel={onCancel}
      onSubmit={() =>
        submit(() => {
          if (!row) return api("/api/v2/variables", { method: "POST", body: { key, value, description: description || null } });
          // A masked value left as shown is not sent back: only the description changes.
          const keepValue = row.value === MASK && value === MASK;
          return api(`/api/v2/variables/${enc(row.key)}${keepValue ? "?update_mask=description" : ""}`, { method: "PATCH", body: { key: row.key, value, description: description || null } });
        })
      }
    >
      <label>
        Key
        <input name="key" value={key} onChange={(e) => setKey(e.target.value)} disabled={!!row} />
      </label>
      <label>
        Value
        <textarea name="value" rows={3} value={value} onChange={(e) => setValue(e.target.value)} />
      </label>
      <label>
        Description
        <input name="description" value={description} onChange={(e) => setDescription(e.target.value)} />
      </label>
    </FormShell>
  );
}

/** Delete in two clicks (no browser dialog), the API's refusal shown next to the button. */
function DeleteButton({ what, path, onDone }: { what: string; path: string; onDone: () => void }) {
  const [armed, setArmed] = useState(false);
  const { error, busy, submit } = useSubmit(onDone);
  return (
    <span className="action">
      {armed ? (
        <>
          <button type="button" className="danger" disabled={busy} onClick={() => submit(() => api(path, { method: "DELETE" }))} aria-label={`Confirm delete ${what}`}>
            Confirm delete
          </button>
          <button type="button" onClick={() => setArmed(false)}>
            Keep
          </button>
        </>
      ) : (
        <button type="button" className="danger" onClick={() => setArmed(true)} aria-label={`Delete ${what}`}>
          Delete
        </button>
      )}
      {error && (
        <span className="error inline-error" role="alert">
          {error}
        </span>
      )}
    </span>
  );
}

/** A table with, for admins, a "New" button, and Edit / Delete per row; the form opens above it. */
function ManagedTable<T>({
  noun,
  path,
  listKey,
  columns,
  rowKey,
  itemPath,
  canDelete = () => true,
  Form,
}: {
  noun: string;
  path: string;
  listKey: string;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  itemPath: (row: T) => string;
  canDelete?: (row: T) => boolean;
  Form: (p: { editing: Exclude<Editing<T>, null>; onDone: () => void; onCancel: () => void }) => React.ReactNode;
}) {
  const isAdmin = useCan("admin");
  const [editing, setEditing] = useState<Editing<T>>(null);
  return (
    <AdminTable<T>
      path={path}
      listKey={listKey}
      columns={columns}
      rowKey={rowKey}
      toolbar={
        isAdmin
          ? (reload) =>
              editing ? (
                <Form
                  key={editing.mode === "edit" ? rowKey(editing.row) : "new"}
                  editing={editing}
                  onCancel={() => setEditing(null)}
                  onDone={() => {
                    setEditing(null);
                    reload();
                  }}
                />
              ) : (
                <p>
                  <button type="button" className="primary" data-testid={`new-${noun}`} onClick={() => setEditing({ mode: "create" })}>
                    New {noun}
                  </button>
                </p>
              )
          : undefined
      }
      actions={
        isAdmin
          ? (row, reload) => (
              <>
                <button type="button" onClick={() => setEditing({ mode: "edit", row })} aria-label={`Edit ${noun} ${rowKey(row)}`}>
                  Edit
                </button>{" "}
                {canDelete(row) && <DeleteButton what={`${noun} ${rowKey(row)}`} path={itemPath(row)} onDone={reload} />}
              </>
            )
          : undefined
      }
    />
  );
}

export function PoolsAdmin() {
  return (
    <ManagedTable<Pool>
      noun="pool"
      path="/api/v2/pools"
      listKey="pools"
      rowKey={(p) => p.name}
      itemPath={(p) => `/api/v2/pools/${enc(p.name)}`}
      // The API refuses it (400): no button that can only fail.
      canDelete={(p) => p.name !== "default_pool"}
      Form={PoolForm}
      columns={[
        { title: "Pool", render: (p) => p.name },
        { title: "Slots", render: (p) => p.slots },
        { title: "Running", render: (p) => p.running_slots },
        { title: "Queued", render: (p) => p.queued_slots },
        { title: "Open", render: (p) => p.open_slots },
        { title: "Description", render: (p) => p.description ?? "" },
      ]}
    />
  );
}

export function VariablesAdmin() {
  return (
    <ManagedTable<Variable>
      noun="variable"
      path="/api/v2/variables"
      listKey="variables"
      rowKey={(v) => v.key}
      itemPath={(v) => `/api/v2/variables/${enc(v.key)}`}
      Form={VariableForm}
      columns={[
        { title: "Key", render: (v) => <code>{v.key}</code> },
        { title: "Value", render: (v) => <code>{v.value}</code> },
        { title: "Description", render: (v) => v.description ?? "" },
      ]}
    />
  );
}
