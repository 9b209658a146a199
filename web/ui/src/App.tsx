// Routes: every page has a shareable URL (tab, run and task are in the path or query).
import { useEffect, useState } from "react";
import { Navigate, Route, Routes, useLocation, useNavigate } from "react-router-dom";
import { disconnectLive } from "./api/live";
import { clearSession, currentSession, type Session } from "./api/session";
import { Layout } from "./components/Layout";
import { SessionContext } from "./components/SessionContext";
import { AdminPage } from "./pages/admin/AdminPage";
import { BackfillPage } from "./pages/actions/BackfillPage";
import { TriggerPage } from "./pages/actions/TriggerPage";
import { DagPage } from "./pages/dag/DagPage";
import { DagListPage } from "./pages/DagListPage";
import { ImportErrorsPage } from "./pages/ImportErrorsPage";
import { LoginPage } from "./pages/LoginPage";
import { RunPage } from "./pages/RunPage";
import { TaskInstancePage } from "./pages/TaskInstancePage";

export function App() {
  const [session, setSession] = useState<Session | null>(currentSession);
  const navigate = useNavigate();
  const location = useLocation();

  useEffect(() => {
    const onLogout = () => setSession(null);
    window.addEventListener("updraft:logout", onLogout);
    return () => window.removeEventListener("updraft:logout", onLogout);
  }, []);

  if (!session) {
    return (
      <LoginPage
        onLogin={(s) => {
          setSession(s);
          if (location.pathname === "/login") navigate("/dags", { replace: true });
        }}
      />
    );
  }

  const logout = () => {
    clearSession();
    disconnectLive();
    setSession(null);
    navigate("/login");
  };

  return (
    <SessionContext.Provider value={session}>
      <Routes>
        <Route element={<Layout onLogout={logout} />}>
          <Route index element={<Navigate to="/dags" replace />} />
          <Route path="login" element={<Navigate to="/dags" replace />} />
          <Route path="dags" element={<DagListPage />} />
          <Route path="dags/:dagId/trigger" element={<TriggerPage />} />
          <Route path="dags/:dagId/backfill" element={<BackfillPage />} />
          <Route path="dags/:dagId/runs/:runId" element={<RunPage />} />
          <Route path="dags/:dagId/runs/:runId/tasks/:taskId" element={<TaskInstancePage />} />
          <Route path="dags/:dagId/:tab?" element={<DagPage />} />
          <Route path="importErrors" element={<ImportErrorsPage />} />
          <Route path="admin/:section" element={<AdminPage />} />
          <Route path="*" element={<p className="muted">No such page.</p>} />
        </Route>
      </Routes>
    </SessionContext.Provider>
  );
}
