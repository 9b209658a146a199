// Encryption at rest of connection passwords and extras and of variable values (Airflow's Fernet
// role): AES-256-GCM from node:crypto, with a key derived (HKDF-SHA256) from the secret key that
// also signs API tokens (UPDRAFT_SECRET_KEY, or `$UPDRAFT_HOME/secret_key` in standalone mode —
// engine/secretKey.ts). GCM authenticates: a value encrypted under another key fails to decrypt
// with a clear error instead of yielding garbage.
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from "node:crypto";
import { UpdraftError } from "../errors.js";

/** Stored values start with this, so that the format can change later without ambiguity. */
const PREFIX = "v1:";
const IV_BYTES = 12;
const TAG_BYTES = 16;
/** HKDF's `info`: a key for this use only, distinct from the token-signing use of the same secret. */
const INFO = "updraft secrets at rest v1";

export class SecretDecryptError extends UpdraftError {
  constructor(what: string) {
    super(
      `cannot decrypt ${what}: it was encrypted with another secret key — every scheduler, worker and web server must share the same UPDRAFT_SECRET_KEY`,
      "secret_key_mismatch",
      500,
    );
  }
}

export class SecretCipher {
  private readonly key: Buffer;

  constructor(secretKey: string) {
    if (!secretKey) throw new UpdraftError("encrypting secrets needs a secret key (UPDRAFT_SECRET_KEY)", "no_secret_key", 500);
    this.key = Buffer.from(hkdfSync("sha256", secretKey, "updraft", INFO, 32));
  }

  encrypt(plaintext: string): string {
    const iv = randomBytes(IV_BYTES);
    const cipher = createCipheriv("aes-256-gcm", this.key, iv);
    const body = Buffer.concat([cipher.update(plaintext, "utf8"), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), body]).toString("base64");
  }

  /** `what` names the value in the error ("the password of connection my_pg"). */
  decrypt(stored: string, what: string): string {
    if (!stored.startsWith(PREFIX)) throw new SecretDecryptError(what);
    const raw = Buffer.from(stored.slice(PREFIX.length), "base64");
    if (raw.length < IV_BYTES + TAG_BYTES) throw new SecretDecryptError(what);
    try {
      const decipher = createDecipheriv("aes-256-gcm", this.key, raw.subarray(0, IV_BYTES));
      decipher.setAuthTag(raw.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
      return Buffer.concat([decipher.update(raw.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString("utf8");
    } catch {
      throw new SecretDecryptError(what);
    }
  }
}
