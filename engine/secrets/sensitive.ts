// Which names hold secrets, as Airflow decides it (airflow.utils.log.secrets_masker
// DEFAULT_SENSITIVE_FIELDS): a variable key, connection extra key or JSON field whose lower-cased
// name contains one of these words has its value hidden.

export const SENSITIVE_FIELDS = [
  "access_token",
  "api_key",
  "apikey",
  "authorization",
  "passphrase",
  "passwd",
  "password",
  "private_key",
  "secret",
  "token",
  "keyfile_dict",
  "service_account",
] as const;

/** What a hidden value shows instead. */
export const REDACTED = "***";

export function isSensitiveKey(name: string): boolean {
  const lower = name.toLowerCase();
  return SENSITIVE_FIELDS.some((field) => lower.includes(field));
}
