// GET /api/v2/auth/refresh (no token required, as Airflow declares it). Airflow's auth managers
// answer with a redirect to their own refresh page; Updraft's tokens are bearer JWTs, so a caller
// holding a still-valid token gets a fresh one (same user and role, a new expiry), and anyone else
// is sent to `next` (a local path only, never another site) or to the UI's login page.
import express from "express";
import { z } from "zod";
import { signToken, verifyToken, type TokenOptions } from "../auth.js";
import { parse, queryString } from "../validate.js";

export const RefreshQuery = z.object({ next: queryString.optional() });

/** Only a path on this server: `//host` and `/\host` would leave it. */
const isLocalPath = (next: string) => next.startsWith("/") && !next.startsWith("//") && !next.startsWith("/\\");

export function authRefreshRouter(options: TokenOptions): express.Router {
  const router = express.Router();
  router.get("/auth/refresh", async (req, res) => {
    const q = parse(RefreshQuery, req.query, "query");
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get("authorization") ?? "");
    const user = match?.[1] ? await verifyToken(match[1], options.secretKey).catch(() => null) : null;
    if (user) {
      res.json({ access_token: await signToken(user, options) });
      return;
    }
    // Airflow declares its 307 with an HTTPExceptionResponse body.
    const target = q.next && isLocalPath(q.next) ? q.next : "/login";
    res.status(307).location(target).json({ detail: `Not authenticated: log in at ${target}` });
  });
  return router;
}
