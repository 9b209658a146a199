// Masking of values the API shows that tasks produced (XCom): every secret this web server knows
// — stored connection passwords and secret extra fields, values of secret-looking variables, and
// the UPDRAFT_CONN_* / UPDRAFT_VAR_* secrets of its own environment — becomes `***`, whole or
// inside a longer string (issue 5 item 4). Log lines need none of this: the worker masks them
// before they are stored. A secret only some worker's environment holds is not known here.
import type { Logger } from "pino";
import type { Store } from "../../engine/store/db.js";
import type { SecretCipher } from "../../engine/secrets/cipher.js";
import { connectionSecrets, environmentSecrets, parseExtra, taskConnection, variableSecrets } from "../../engine/secrets/lookup.js";
import { SecretsMasker } from "../../engine/secrets/masker.js";

export async function knownSecretsMasker(store: Store, cipher: SecretCipher, logger?: Logger): Promise<SecretsMasker> {
  const masker = new SecretsMasker(environmentSecrets(process.env));
  const [connections, variables] = await Promise.all([
    store.db.selectFrom("connections").select(["conn_id", "conn_type", "password", "extra", "is_encrypted", "is_extra_encrypted"]).execute(),
    store.db.selectFrom("variables").select(["key", "val", "is_encrypted"]).execute(),
  ]);
  for (const c of connections) {
    try {
      const password = c.password !== null && c.is_encrypted ? cipher.decrypt(c.password, `the password of connection "${c.conn_id}"`) : c.password;
      const extra = c.extra !== null && c.is_extra_encrypted ? cipher.decrypt(c.extra, `the extra of connection "${c.conn_id}"`) : c.extra;
      const conn = taskConnection(c.conn_id, { connType: c.conn_type, host: null, port: null, login: null, schema: null, password, extra: safeExtra(extra, c.conn_id) });
      for (const s of connectionSecrets(conn)) masker.add(s);
    } catch (err) {
      logger?.warn({ err, conn_id: c.conn_id }, "cannot read a connection to mask its secrets");
    }
  }
  for (const v of variables) {
    try {
      const value = v.is_encrypted ? cipher.decrypt(v.val, `variable "${v.key}"`) : v.val;
      for (const s of variableSecrets(v.key, value)) masker.add(s);
    } catch (err) {
      logger?.warn({ err, key: v.key }, "cannot read a variable to mask its secrets");
    }
  }
  return masker;
}

function safeExtra(extra: string | null, connId: string): Record<string, unknown> {
  try {
    return parseExtra(extra, connId);
  } catch {
    return {};
  }
}
