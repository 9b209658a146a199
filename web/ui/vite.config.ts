// Builds the UI into web/ui/dist, which the web server serves at `/` (web/server/static.ts).
import path from "node:path";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vite";
import react from "@vitejs/plugin-react";

const root = path.dirname(fileURLToPath(import.meta.url));

export default defineConfig({
  root,
  plugins: [react()],
  logLevel: "warn",
  build: { outDir: path.join(root, "dist"), emptyOutDir: true, chunkSizeWarningLimit: 2000 },
  server: {
    // `npx vite --config web/ui/vite.config.ts` against a running `updraft start`.
    proxy: Object.fromEntries(["/api", "/auth", "/ui", "/socket.io"].map((p) => [p, { target: "http://127.0.0.1:8080", ws: p === "/socket.io" }])),
  },
});
