// HTTP to the API: the bearer token on every call, errors as ApiError with Airflow's `detail`
// (a string, or FastAPI's list of {loc, msg}) turned into readable messages.
import { clearSession, currentSession } from "./session";

export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly fields: { field: string; message: string }[] = [],
  ) {
    super(message);
  }
}

interface ValidationItem {
  loc?: (string | number)[];
  msg?: string;
}

function describe(status: number, body: unknown, path: string): ApiError {
  const detail = (body as { detail?: unknown } | null)?.detail;
  if (Array.isArray(detail)) {
    const fields = (detail as ValidationItem[]).map((d) => ({ field: (d.loc ?? []).filter((p) => p !== "body").join("."), message: d.msg ?? "invalid" }));
    return new ApiError(status, fields.map((f) => (f.field ? `${f.field}: ${f.message}` : f.message)).join("; "), fields);
  }
  // The router's own 404 (no such endpoint) says just "Not Found"; a missing resource names itself.
  if (status === 404 && (detail === "Not Found" || detail === undefined)) return new ApiError(status, `This server does not offer ${path.split("?")[0]} (yet).`);
  if (typeof detail === "string") return new ApiError(status, detail);
  return new ApiError(status, `Request failed with status ${status}`);
}

export async function api<T>(path: string, init: { method?: string; body?: unknown; accept?: string } = {}): Promise<T> {
  const session = currentSession();
  const headers: Record<string, string> = { Accept: init.accept ?? "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  if (init.body !== undefined) headers["Content-Type"] = "application/json";
  let res: Response;
  try {
    res = await fetch(path, { method: init.method ?? "GET", headers, body: init.body === undefined ? undefined : JSON.stringify(init.body) });
  } catch {
    throw new ApiError(0, "The server cannot be reached.");
  }
  const text = await res.text();
  let body: unknown = null;
  if (text) {
    try {
      body = JSON.parse(text);
    } catch {
      body = text;
    }
  }
  if (res.status === 401 && session) {
    clearSession();
    window.dispatchEvent(new Event("updraft:logout"));
  }
  if (!res.ok) throw describe(res.status, body, path);
  return body as T;
}

/** Query string from defined values; arrays repeat the key (`state=a&state=b`). */
export function qs(params: Record<string, string | number | boolean | undefined | null | (string | number)[]>): string {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined || value === null || value === "") continue;
    if (Array.isArray(value)) for (const v of value) search.append(key, String(v));
    else search.set(key, String(value));
  }
  const s = search.toString();
  return s ? `?${s}` : "";
}

export const enc = encodeURIComponent;
