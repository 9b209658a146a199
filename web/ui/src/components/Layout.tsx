// The frame around every page: navigation, the user and role, theme, logout.
import { NavLink, Outlet } from "react-router-dom";
import { useCan, useSession } from "./SessionContext";
import { ThemeToggle } from "./Theme";

export function Layout({ onLogout }: { onLogout: () => void }) {
  const session = useSession();
  const admin = useCan("admin");
  return (
    <div className="app">
      <header className="topbar">
        <NavLink to="/dags" className="brand">
          ⇡ Updraft
        </NavLink>
        <nav aria-label="main">
          <NavLink to="/dags">DAGs</NavLink>
          <NavLink to="/importErrors">Import errors</NavLink>
          <NavLink to="/admin/pools">Pools</NavLink>
          {/* Variables and connections are admin-only, reads included (the API answers others 403). */}
          {admin && <NavLink to="/admin/variables">Variables</NavLink>}
          {admin && <NavLink to="/admin/connections">Connections</NavLink>}
          <NavLink to="/admin/workers">Workers</NavLink>
          {admin && <NavLink to="/admin/users">Users</NavLink>}
          {admin && <NavLink to="/admin/audit">Audit log</NavLink>}
        </nav>
        <span className="spacer" />
        <span className="who" data-testid="who">
          {session?.username} · <em>{session?.role}</em>
        </span>
        <ThemeToggle />
        <button type="button" className="ghost" onClick={onLogout}>
          Log out
        </button>
      </header>
      <main>
        <Outlet />
      </main>
    </div>
  );
}
