// Authentication and roles. A login (`POST /auth/token`, Airflow's simple auth manager) returns a
// JWT signed HS256 with the secret key: `sub` is the username, `role` the role. Every other API
// request carries it as `Authorization: Bearer …`. Tokens are checked by signature and expiry
// only — no database round trip per request — so a deleted user's token lives until it expires.
import express, { type RequestHandler, type Response } from "express";
import { errors as joseErrors, jwtVerify, SignJWT } from "jose";
import { z } from "zod";
import { AuthError } from "../../engine/errors.js";
import type { Store } from "../../engine/store/db.js";
import { isRole, roleAtLeast, type Role } from "../../engine/store/users/roles.js";
import { verifyPassword } from "../../engine/store/users/verifyPassword.js";
import { parse } from "./validate.js";

export interface AuthUser {
  username: string;
  role: Role;
}

export interface TokenOptions {
  secretKey: string;
  tokenTtlMs: number;
}

const ALGORITHM = "HS256";

const keyOf = (secretKey: string) => new TextEncoder().encode(secretKey);

export async function signToken(user: AuthUser, options: TokenOptions): Promise<string> {
  const now = Date.now();
  return new SignJWT({ role: user.role })
    .setProtectedHeader({ alg: ALGORITHM })
    .setSubject(user.username)
    .setIssuedAt(Math.floor(now / 1000))
    .setExpirationTime(Math.floor((now + options.tokenTtlMs) / 1000))
    .sign(keyOf(options.secretKey));
}

/** The user a token speaks for; AuthError (401) in Airflow's words when it is not valid. */
export async function verifyToken(token: string, secretKey: string): Promise<AuthUser> {
  let payload;
  try {
    ({ payload } = await jwtVerify(token, keyOf(secretKey), { algorithms: [ALGORITHM] }));
  } catch (err) {
    throw new AuthError(err instanceof joseErrors.JWTExpired ? "Token Expired" : "Invalid JWT token");
  }
  if (!payload.sub || !isRole(payload.role)) throw new AuthError("Invalid JWT token");
  return { username: payload.sub, role: payload.role };
}

/** Default-deny: no valid bearer token, no access. Sets `res.locals.user`. */
export function authenticate(secretKey: string): RequestHandler {
  return async (req, res, next) => {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(req.get("authorization") ?? "");
    if (!match?.[1]) throw new AuthError("Not authenticated");
    res.locals.user = await verifyToken(match[1], secretKey);
    next();
  };
}

export function currentUser(res: Response): AuthUser {
  const user = res.locals.user as AuthUser | undefined;
  if (!user) throw new AuthError("Not authenticated");
  return user;
}

/** viewer < operator < admin; a weaker role gets 403. */
export function requireRole(required: Role): RequestHandler {
  return (_req, res, next) => {
    if (!roleAtLeast(currentUser(res).role, required)) throw new AuthError("Forbidden", 403);
    next();
  };
}

/** Airflow's batch reads: POSTs only because their filters travel in a body. */
const READ_ONLY_POSTS = [/^\/dags\/[^/]+\/dagRuns\/list$/, /^\/dags\/[^/]+\/dagRuns\/[^/]+\/taskInstances\/list$/];

/**
 * Reading needs any role; every other method needs at least operator unless the route asks for
 * more, so that a write endpoint added without a role check is still closed to viewers.
 */
export const writesNeedOperator: RequestHandler = (req, res, next) => {
  if (req.method === "GET" || req.method === "HEAD" || req.method === "OPTIONS") return next();
  if (req.method === "POST" && READ_ONLY_POSTS.some((re) => re.test(req.path))) return next();
  return requireRole("operator")(req, res, next);
};

export const LoginBody = z.strictObject({ username: z.string(), password: z.string() });

/** `POST /auth/token`: JSON or form-encoded {username, password} → 201 {access_token}. */
export function tokenRouter(store: Store, options: TokenOptions): express.Router {
  const router = express.Router();
  router.post("/token", express.urlencoded({ extended: false, limit: "16kb" }), async (req, res) => {
    if (req.get("content-type") && !req.is(["application/json", "application/x-www-form-urlencoded"])) {
      res.status(415).json({ detail: "Unsupported Media Type" });
      return;
    }
    const body = parse(LoginBody, req.body, "body");
    const user = await verifyPassword(store.db, body.username, body.password);
    if (!user) throw new AuthError("Invalid credentials");
    res.status(201).json({ access_token: await signToken(user, options) });
  });
  // Airflow's create_token_all_admins, with its all-admins mode off (Updraft has no such mode).
  router.get("/token", (_req, res) => {
    res.status(403).json({ detail: "This method is only allowed if ``[core] simple_auth_manager_all_admins`` is True" });
  });
  return router;
}
