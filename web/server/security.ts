// HTTP hardening for the web server: security headers (helmet), the login rate limit, and CORS,
// which is off unless origins are configured. Request body limits live with the parsers in app.ts.
import type { RequestHandler } from "express";
import helmet from "helmet";
import { rateLimit } from "express-rate-limit";

/**
 * One policy for the UI at `/` and Swagger UI at `/docs`: scripts only from this server; inline
 * styles (React style attributes, Swagger UI) and data: images (Swagger UI's icons) allowed;
 * socket.io over ws(s) to this server. No upgrade-insecure-requests: a plain-HTTP deployment
 * (the standalone default) would have every asset rewritten to an https URL that does not answer.
 */
export function securityHeaders(): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", "data:"],
        fontSrc: ["'self'", "data:"],
        connectSrc: ["'self'", "ws:", "wss:"],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
  });
}

/** Failed and successful logins alike count, per client address, over a one-minute window. */
export function loginRateLimit(perMinute: number): RequestHandler {
  return rateLimit({
    windowMs: 60_000,
    limit: perMinute,
    standardHeaders: "draft-8",
    legacyHeaders: false,
    handler: (_req, res) => {
      res.status(429).json({ detail: "Too many login attempts: try again in a minute" });
    },
  });
}

/**
 * CORS for the listed origins only (UPDRAFT_CORS_ORIGINS); with none, no CORS header is ever sent
 * and browsers keep other sites' pages away from the API. Preflights are answered here.
 */
export function corsFor(origins: string[]): RequestHandler {
  const allowed = new Set(origins);
  return (req, res, next) => {
    const origin = req.get("origin");
    if (!origin || !allowed.has(origin)) return next();
    res.vary("Origin");
    res.set("Access-Control-Allow-Origin", origin);
    res.set("Access-Control-Expose-Headers", "RateLimit, RateLimit-Policy, Retry-After");
    if (req.method === "OPTIONS" && req.get("access-control-request-method")) {
      res.set("Access-Control-Allow-Methods", "GET, POST, PUT, PATCH, DELETE");
      res.set("Access-Control-Allow-Headers", "Authorization, Content-Type");
      res.set("Access-Control-Max-Age", "600");
      res.status(204).end();
      return;
    }
    next();
  };
}

/**
 * A request body must be JSON: one sent as text or a form would otherwise reach the routes as no
 * body at all, and a route whose fields are all optional would act on it as on `{}`. Answered as
 * FastAPI answers a JSON body it did not get: 422, body missing.
 */
export const jsonBodiesOnly: RequestHandler = (req, res, next) => {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS" || req.method === "DELETE") return next();
  const hasBody = Number(req.get("content-length") ?? 0) > 0 || req.get("transfer-encoding") !== undefined;
  if (hasBody && !req.is("application/json")) {
    res.status(422).json({ detail: [{ type: "missing", loc: ["body"], msg: "Field required (the body must be application/json)", input: null }] });
    return;
  }
  next();
};
