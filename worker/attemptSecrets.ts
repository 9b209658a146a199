// The worker's side of `ctx.variables` / `ctx.connections` and of secrets masking (DESIGN §5):
// each attempt gets a masker seeded with the secrets the environment provides (UPDRAFT_CONN_*
// passwords, secret UPDRAFT_VAR_* values), and every variable or connection the task obtains adds
// its secret values to it. Log lines are masked here, before they are stored — so the logs API
// and the live socket events (fed by the stored rows) never see the plaintext.
import type { Kysely } from "kysely";
import type { Database } from "../engine/store/schema.js";
import { SecretCipher } from "../engine/secrets/cipher.js";
import { environmentSecrets, SecretsLookup } from "../engine/secrets/lookup.js";
import { SecretsMasker } from "../engine/secrets/masker.js";
import type { SecretKind } from "../engine/execution/taskSecrets.js";
import type { AttemptResult } from "../engine/execution/runTask.js";

export interface AttemptSecrets {
  mask(text: string): string;
  /** The attempt's error or skip reason masked (they are stored and logged); XCom is left whole, as downstream tasks need it. */
  maskResult(result: AttemptResult): AttemptResult;
  lookup(kind: SecretKind, key: string): Promise<unknown>;
}

export class WorkerSecrets {
  private readonly lookup: SecretsLookup;
  private readonly known: string[];

  constructor(db: Kysely<Database>, secretKey: string | undefined, env: NodeJS.ProcessEnv = process.env) {
    this.lookup = new SecretsLookup(db, secretKey ? new SecretCipher(secretKey) : null, env);
    this.known = environmentSecrets(env);
  }

  forAttempt(): AttemptSecrets {
    const masker = new SecretsMasker(this.known);
    return {
      mask: (text) => masker.mask(text),
      maskResult: (result) =>
        "error" in result ? { ...result, error: masker.mask(result.error) } : result.outcome === "skipped" ? { ...result, reason: masker.mask(result.reason) } : result,
      lookup: async (kind, key) => {
        const found = kind === "variable" ? await this.lookup.variable(key) : await this.lookup.connection(key);
        for (const secret of found?.secrets ?? []) masker.add(secret);
        return found?.value ?? null;
      },
    };
  }
}
