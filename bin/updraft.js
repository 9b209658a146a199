#!/usr/bin/env node
// The `updraft` command. Registers tsx so the TypeScript sources run as they are, then hands
// over to the CLI (bin/cli.ts).
import { register } from "tsx/esm/api";

register();
await import("./cli.ts");
