// Log in through the API's token flow (POST /auth/token); the token goes to sessionStorage.
import { useState } from "react";
import { api, ApiError } from "../api/client";
import { saveToken, type Session } from "../api/session";
import { ThemeToggle } from "../components/Theme";

export function LoginPage({ onLogin }: { onLogin: (session: Session) => void }) {
  const [username, setUsername] = useState("");
  const [password, setPassword] = useState("");
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);

  const submit = async (e: React.FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const { access_token } = await api<{ access_token: string }>("/auth/token", { method: "POST", body: { username, password } });
      const session = saveToken(access_token);
      if (!session) throw new ApiError(0, "The server returned an unusable token.");
      onLogin(session);
    } catch (err) {
      setError(err instanceof ApiError && err.status === 401 ? "Wrong username or password." : (err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <div className="login">
      <form onSubmit={submit} className="card" aria-label="log in">
        <h1>⇡ Updraft</h1>
        <label>
          Username
          <input name="username" autoComplete="username" value={username} onChange={(e) => setUsername(e.target.value)} required autoFocus />
        </label>
        <label>
          Password
          <input name="password" type="password" autoComplete="current-password" value={password} onChange={(e) => setPassword(e.target.value)} required />
        </label>
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? "Logging in…" : "Log in"}
        </button>
        <ThemeToggle />
      </form>
    </div>
  );
}
