// The pure parts of secrets handling: Airflow's sensitive-name rule, the masker (whole values,
// inside longer strings, URI- and JSON-escaped forms, redaction by field name), encryption at
// rest (round trip, a wrong key is a clear error, no plaintext in the stored form) and
// connection URIs.
import { describe, expect, it } from "vitest";
import { SecretCipher } from "../../engine/secrets/cipher.js";
import { connectionUri, parseConnectionUri } from "../../engine/secrets/connectionUri.js";
import { envConnection, envVariable, environmentSecrets } from "../../engine/secrets/lookup.js";
import { SecretsMasker } from "../../engine/secrets/masker.js";
import { isSensitiveKey } from "../../engine/secrets/sensitive.js";

describe("sensitive names (Airflow's DEFAULT_SENSITIVE_FIELDS, substring, any case)", () => {
  it.each([
    ["db_password", true],
    ["API_KEY", true],
    ["my_apikey", true],
    ["slack_token", true],
    ["Authorization", true],
    ["aws_secret_access_key", true],
    ["private_key_pem", true],
    ["bucket", false],
    ["region", false],
  ])("%s → %s", (name, expected) => {
    expect(isSensitiveKey(name)).toBe(expected);
  });
});

describe("SecretsMasker", () => {
  const masker = new SecretsMasker(["s3cr3t-pa$$", "tok_12345"]);

  it("masks a secret whole and inside a longer string", () => {
    expect(masker.mask("s3cr3t-pa$$")).toBe("***");
    expect(masker.mask("connecting with password=s3cr3t-pa$$;retry")).toBe("connecting with password=***;retry");
    expect(masker.mask("a tok_12345 and tok_12345 again")).toBe("a *** and *** again");
    expect(masker.mask("nothing here")).toBe("nothing here");
  });

  it("masks the URI-encoded form (a password inside a connection URI)", () => {
    expect(masker.mask(`postgres://u:${encodeURIComponent("s3cr3t-pa$$")}@h/db`)).toBe("postgres://u:***@h/db");
  });

  it("masks the longest secret first when one contains another", () => {
    const m = new SecretsMasker(["abcd", "abcdefgh"]);
    expect(m.mask("x abcdefgh y")).toBe("x *** y");
  });

  it("ignores values too short to mask without shredding the logs", () => {
    const m = new SecretsMasker(["ab", ""]);
    expect(m.size).toBe(0);
    expect(m.mask("abab")).toBe("abab");
  });

  it("redacts JSON: secrets in strings, and whole values of secret-looking fields", () => {
    expect(masker.redact({ note: "pw is s3cr3t-pa$$", password: "anything", nested: [{ api_key: 42, ok: "tok_12345!" }], n: 1 })).toEqual({
      note: "pw is ***",
      password: "***",
      nested: [{ api_key: "***", ok: "***!" }],
      n: 1,
    });
    expect(masker.redact({ credentials: null, private_key: { pem: "x", parts: ["a", 1] } })).toEqual({ credentials: null, private_key: { pem: "***", parts: ["***", "***"] } });
  });
});

describe("SecretCipher (AES-256-GCM, key from the secret key)", () => {
  const cipher = new SecretCipher("a-secret-key-of-sufficient-length");

  it("round-trips, with a fresh IV each time and no plaintext in the stored form", () => {
    const a = cipher.encrypt("hunter2-password");
    const b = cipher.encrypt("hunter2-password");
    expect(a).not.toBe(b);
    expect(a).not.toContain("hunter2");
    expect(Buffer.from(a.slice(3), "base64").toString("latin1")).not.toContain("hunter2");
    expect(cipher.decrypt(a, "x")).toBe("hunter2-password");
  });

  it("refuses a value encrypted under another key, or tampered with, with a clear error", () => {
    const other = new SecretCipher("another-secret-key-0123456789");
    const stored = other.encrypt("value");
    expect(() => cipher.decrypt(stored, `variable "v"`)).toThrow(/cannot decrypt variable "v": it was encrypted with another secret key.*UPDRAFT_SECRET_KEY/);
    const mine = cipher.encrypt("value");
    const tampered = mine.slice(0, -4) + (mine.endsWith("AAAA") ? "BBBB" : "AAAA");
    expect(() => cipher.decrypt(tampered, "x")).toThrow(/cannot decrypt/);
    expect(() => cipher.decrypt("plaintext", "x")).toThrow(/cannot decrypt/);
  });
});

describe("connections and variables from the environment", () => {
  it("parses Airflow's URI form, percent-decoding login and password", () => {
    const c = parseConnectionUri("postgres://user%40corp:p%40ss%2Fw0rd@db.example.com:6543/analytics?sslmode=disable", "my_pg");
    expect(c).toEqual({ connType: "postgres", host: "db.example.com", port: 6543, login: "user@corp", password: "p@ss/w0rd", schema: "analytics", extra: { sslmode: "disable" } });
    expect(parseConnectionUri(connectionUri(c), "my_pg")).toEqual(c);
    expect(() => parseConnectionUri("not a uri", "bad")).toThrow(/connection "bad" from the environment is not a valid URI/);
  });

  it("reads UPDRAFT_VAR_<KEY> and UPDRAFT_CONN_<ID> (upper-cased), URI or JSON", () => {
    const env = {
      UPDRAFT_VAR_REGION: "eu-west-1",
      UPDRAFT_VAR_SLACK_TOKEN: "xoxb-secret-1",
      UPDRAFT_CONN_MY_PG: "postgres://etl:pg-pass-99@localhost:5432/warehouse",
      UPDRAFT_CONN_API: JSON.stringify({ conn_type: "http", host: "api.example.com", password: "api-pass-77", extra: { api_key: "k-123456" } }),
    };
    expect(envVariable(env, "region")).toBe("eu-west-1");
    expect(envConnection(env, "my_pg")).toMatchObject({ connId: "my_pg", connType: "postgres", login: "etl", password: "pg-pass-99", schema: "warehouse", port: 5432 });
    expect(envConnection(env, "api")).toMatchObject({ connType: "http", host: "api.example.com", password: "api-pass-77", extra: { api_key: "k-123456" } });
    expect(envConnection(env, "missing")).toBeUndefined();
    expect(environmentSecrets(env).sort()).toEqual(["api-pass-77", "k-123456", "pg-pass-99", "xoxb-secret-1"]);
  });
});
