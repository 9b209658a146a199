// ESLint flat config. Besides typescript-eslint's recommended rules, this file enforces the
// architecture of DESIGN §1: scheduler, worker and web/server meet only in the database, and the
// engine library imports none of them. Tests (test/unit/boundaries.test.ts) prove the arrows hold.
import tseslint from "typescript-eslint";

/** Components, as top-level folders, with the folders each may not import (DESIGN §1, "may import"). */
const BOUNDARIES = [
  { folder: "engine", forbidden: ["scheduler", "worker", "web", "bin"], why: "engine/ is the shared library: it imports itself and npm packages only" },
  { folder: "scheduler", forbidden: ["worker", "web", "bin"], why: "scheduler/ may import engine/ only; it meets worker and web in the database" },
  { folder: "worker", forbidden: ["scheduler", "web", "bin"], why: "worker/ may import engine/ only; it meets scheduler and web in the database" },
  { folder: "web/server", forbidden: ["scheduler", "worker", "bin"], why: "web/server/ may import engine/ only; it meets scheduler and worker in the database" },
  // "server" catches web/ui/src's "../../server/…" as well as "web/server".
  { folder: "web/ui", forbidden: ["engine", "scheduler", "worker", "server", "bin"], why: "web/ui/ talks to the web server only over HTTP and socket.io" },
];

/**
 * A relative specifier that reaches into `folder` at any depth: "../worker/worker.js",
 * "../../../worker/x.js", "./../worker", "../worker". Bare specifiers (npm packages) never match.
 */
const relativeInto = (folder) => `^\\.{1,2}/(?:.*/)?${folder}(?:/|$)`;

function boundary({ folder, forbidden, why }) {
  const message = `${why} (DESIGN §1).`;
  const regexes = forbidden.map(relativeInto);
  return {
    name: `updraft/boundaries/${folder}`,
    files: [`${folder}/**/*.{ts,tsx,mts,cts,js,mjs,cjs}`],
    rules: {
      // Static imports and re-exports, type-only ones included: a type import couples as well.
      "no-restricted-imports": ["error", { patterns: regexes.map((regex) => ({ regex, message })) }],
      // `await import("../worker/…")` is an import too.
      "no-restricted-syntax": [
        "error",
        ...regexes.map((regex) => ({
          // esquery's regex literal cannot contain "/", so spell it \x2F.
          selector: `ImportExpression > Literal.source[value=/${regex.replaceAll("/", "\\x2F")}/]`,
          message,
        })),
      ],
    },
  };
}

export default tseslint.config(
  {
    name: "updraft/ignores",
    ignores: ["**/node_modules/**", "**/dist/**", "web/ui/dist/**", ".updraft/**", "bench/results/**", "coverage/**", ".vitest-cache/**"],
  },
  {
    name: "updraft/typescript",
    files: ["**/*.{ts,tsx,mts,cts}"],
    extends: [tseslint.configs.recommended],
    rules: {
      // `_`-prefixed names are deliberately unused (callback signatures, destructured omissions).
      "@typescript-eslint/no-unused-vars": ["error", { argsIgnorePattern: "^_", varsIgnorePattern: "^_", caughtErrors: "none", ignoreRestSiblings: true }],
    },
  },
  {
    name: "updraft/javascript",
    files: ["**/*.{js,mjs,cjs}"],
    languageOptions: { ecmaVersion: "latest", sourceType: "module" },
  },
  ...BOUNDARIES.map(boundary),
);
