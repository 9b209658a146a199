// Loading / error / data for one GET, re-fetched when its path changes or on reload() — a reload
// during a GET lets that GET's response show first (latestGet.ts says why).
import { useCallback, useEffect, useRef, useState } from "react";
import { api, ApiError } from "./client";
import { LatestGet } from "./latestGet";

export interface Resource<T> {
  data: T | null;
  error: ApiError | null;
  loading: boolean;
  reload: () => void;
}

export function useApi<T>(path: string | null): Resource<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<ApiError | null>(null);
  const [loading, setLoading] = useState(path !== null);
  const gets = useRef<LatestGet<T> | null>(null);
  gets.current ??= new LatestGet<T>(
    (p) => api<T>(p),
    (r) => {
      if (r.error === undefined) {
        setData(r.data!);
        setError(null);
      } else setError(r.error instanceof ApiError ? r.error : new ApiError(0, String(r.error)));
    },
    setLoading,
  );

  useEffect(() => {
    const g = gets.current!;
    g.setPath(path);
    return () => g.stop();
  }, [path]);

  const reload = useCallback(() => gets.current!.reload(), []);
  return { data, error, loading, reload };
}
