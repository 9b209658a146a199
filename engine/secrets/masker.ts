// Airflow's secrets masker: every secret value a task obtained (connection passwords, secret
// variables) and every value known to be secret is replaced by `***` wherever it appears — whole
// or inside a longer string — before a log line is stored or an XCom value is shown.
import { isSensitiveKey, REDACTED } from "./sensitive.js";

/**
 * Shorter values are not masked: hiding every "a" or "12" would shred the logs while protecting
 * nothing (Airflow skips such values too, with its own floor).
 */
export const MIN_SECRET_LENGTH = 4;
/** Airflow's max_depth for redacting nested structures. */
const MAX_DEPTH = 10;

export class SecretsMasker {
  private readonly secrets = new Set<string>();
  private pattern: RegExp | null = null;

  constructor(secrets: Iterable<string | null | undefined> = []) {
    for (const s of secrets) this.add(s);
  }

  /**
   * Registers `secret`, with the forms it takes inside URIs and JSON strings, so that a password
   * printed as part of a connection URI or a serialised object is caught too.
   */
  add(secret: string | null | undefined): void {
    if (typeof secret !== "string") return;
    const forms = new Set([secret, encodeURIComponent(secret), JSON.stringify(secret).slice(1, -1)]);
    for (const line of secret.split(/\r?\n/)) forms.add(line.trim()); // multi-line keys print line by line
    for (const form of forms) {
      if (form.length >= MIN_SECRET_LENGTH && !this.secrets.has(form)) {
        this.secrets.add(form);
        this.pattern = null;
      }
    }
  }

  get size(): number {
    return this.secrets.size;
  }

  /** `text` with every registered secret replaced by `***`. */
  mask(text: string): string {
    if (!this.secrets.size || !text) return text;
    // Longest first, so that a secret containing another is replaced whole.
    this.pattern ??= new RegExp([...this.secrets].sort((a, b) => b.length - a.length).map(escapeRegExp).join("|"), "g");
    return text.replace(this.pattern, REDACTED);
  }

  /**
   * A JSON value with secrets masked in every string, and the whole value of any field whose
   * name looks secret (Airflow's redact(value, name)) replaced by `***`.
   */
  redact(value: unknown, name?: string, depth = 0): unknown {
    if (name !== undefined && isSensitiveKey(name)) return redactAll(value, depth);
    if (depth > MAX_DEPTH) return value;
    if (typeof value === "string") return this.mask(value);
    if (Array.isArray(value)) return value.map((v) => this.redact(v, undefined, depth + 1));
    if (value && typeof value === "object") {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) {
        out[k] = this.redact(v, k, depth + 1);
      }
      return out;
    }
    return value;
  }
}

/** Airflow's _redact_all: under a secret-looking name, every leaf is hidden (null stays null). */
function redactAll(value: unknown, depth: number): unknown {
  if (value === null || value === undefined) return value;
  if (depth > MAX_DEPTH || typeof value !== "object") return REDACTED;
  if (Array.isArray(value)) return value.map((v) => redactAll(v, depth + 1));
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, redactAll(v, depth + 1)]));
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
