// Serving the built UI (web/ui/dist): its files, and index.html for any other GET that is not an
// API, auth, UI-API or socket.io path, so that shareable URLs (/dags/x/grid) load the app.
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import express, { type RequestHandler } from "express";

export const DEFAULT_UI_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../ui/dist");

const NOT_SPA = /^\/(api|auth|ui|socket\.io|docs)(\/|$)/;

export function serveUi(dir = DEFAULT_UI_DIR): RequestHandler {
  const files = express.static(dir, { index: false, maxAge: "1h" });
  const indexFile = path.join(dir, "index.html");
  return (req, res, next) => {
    if (NOT_SPA.test(req.path) || (req.method !== "GET" && req.method !== "HEAD")) return next();
    files(req, res, () => {
      // Hashed assets are served above; every other path is a client-side route.
      if (req.path.startsWith("/assets/") || !fs.existsSync(indexFile)) return next();
      res.set("Cache-Control", "no-cache");
      // The app never renders HTML from data, but deny inline script and framing as a second wall.
      res.set("Content-Security-Policy", "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self' ws: wss:; frame-ancestors 'none'");
      res.sendFile(indexFile);
    });
  };
}
