// Every route an Express app serves, found by walking its router stack (express 5 / router 2:
// each layer keeps the path it was registered with as `rawPath`). Used by the tests that must not
// miss a route added later: the OpenAPI coverage test and the default-deny walk.
import type { Express } from "express";

export interface RegisteredRoute {
  method: string;
  /** Express syntax, e.g. /api/v2/dags/:dag_id */
  path: string;
  /** OpenAPI syntax, e.g. /api/v2/dags/{dag_id} */
  openApiPath: string;
}

interface Layer {
  rawPath?: string | string[];
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: Layer[] };
}

export function registeredRoutes(app: Express): RegisteredRoute[] {
  const routes: RegisteredRoute[] = [];
  const walk = (stack: Layer[], prefix: string) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const [method, on] of Object.entries(layer.route.methods)) {
          if (!on || method === "_all") continue;
          const path = `${prefix}${layer.route.path}`;
          routes.push({ method, path, openApiPath: path.replace(/:(\w+)/g, "{$1}") });
        }
      } else if (layer.handle?.stack) {
        const raw = Array.isArray(layer.rawPath) ? layer.rawPath[0] : layer.rawPath;
        walk(layer.handle.stack, raw && raw !== "/" ? `${prefix}${raw}` : prefix);
      }
    }
  };
  walk((app as unknown as { router: { stack: Layer[] } }).router.stack, "");
  return routes;
}
