// The login token lives in sessionStorage (one tab's session); its role claim drives what the UI
// offers. The server enforces roles regardless.
export type Role = "viewer" | "operator" | "admin";

const KEY = "updraft.token";

export interface Session {
  token: string;
  username: string;
  role: Role;
  expiresAt: number;
}

function decode(token: string): Session | null {
  try {
    const part = token.split(".")[1] ?? "";
    const json = JSON.parse(atob(part.replace(/-/g, "+").replace(/_/g, "/"))) as { sub?: string; role?: string; exp?: number };
    if (!json.sub || !["viewer", "operator", "admin"].includes(json.role ?? "")) return null;
    return { token, username: json.sub, role: json.role as Role, expiresAt: (json.exp ?? 0) * 1000 };
  } catch {
    return null;
  }
}

export function currentSession(): Session | null {
  const token = sessionStorage.getItem(KEY);
  if (!token) return null;
  const session = decode(token);
  if (!session || session.expiresAt < Date.now()) {
    sessionStorage.removeItem(KEY);
    return null;
  }
  return session;
}

export function saveToken(token: string): Session | null {
  const session = decode(token);
  if (session) sessionStorage.setItem(KEY, token);
  return session;
}

export function clearSession(): void {
  sessionStorage.removeItem(KEY);
}

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };
export const roleAtLeast = (role: Role | undefined, needed: Role) => role !== undefined && RANK[role] >= RANK[needed];
