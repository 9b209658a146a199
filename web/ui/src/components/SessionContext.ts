import { createContext, useContext } from "react";
import { roleAtLeast, type Role, type Session } from "../api/session";

export const SessionContext = createContext<Session | null>(null);

export function useSession(): Session | null {
  return useContext(SessionContext);
}

/** Whether the logged-in user may do what needs `role` (viewers get no action buttons). */
export function useCan(role: Role): boolean {
  return roleAtLeast(useSession()?.role, role);
}
