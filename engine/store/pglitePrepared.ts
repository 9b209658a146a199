// Named prepared statements on PGlite, for the statements marked PREPARED (db.ts).
//
// PGlite's `query()` runs every statement unnamed, in six protocol exchanges (parse, describe the
// statement, bind, describe the portal, execute, sync): each execution is parsed and planned
// again, and kysely-pglite-dialect has no other path. On PostgreSQL a marked statement runs as a
// named prepared statement (pg's `name`), planned once per connection; this gives PGlite the same:
// the first execution of a text parses it under a name derived from the text and describes its
// parameter types; every execution after that is one exchange of bind, describe portal, execute
// and sync, through PGlite's own protocol serializer and result parser, so rows come back parsed
// exactly as `query()` would return them.
import { parse, protocol, type PGlite, type Results } from "@electric-sql/pglite";
import { preparedStatementName } from "./db.js";

type Prepared = { name: string; paramTypes: number[] };

/** Concatenates protocol messages into one buffer: PGlite runs them in one pass of its main loop. */
function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/**
 * A `query(text, params)` for `pglite` that runs each distinct text as a named prepared
 * statement. Only for a bounded set of texts (the PREPARED ones): each stays prepared for the
 * life of the database session.
 */
export function preparedQuery(pglite: PGlite): <T>(text: string, params: unknown[]) => Promise<Results<T>> {
  const statements = new Map<string, Prepared>();
  const prepare = async (text: string): Promise<Prepared> => {
    const name = preparedStatementName(text);
    // Parse and describe in one exchange; an error (a syntax error, a missing table) throws, and
    // the sync in the same buffer has ended the failed exchange, as query() does in its finally.
    const messages = await pglite.execProtocolStream(concat([protocol.serialize.parse({ name, text }), protocol.serialize.describe({ type: "S", name }), protocol.serialize.sync()]), { syncToFs: false });
    const prepared = { name, paramTypes: parse.parseDescribeStatementResults(messages) };
    statements.set(text, prepared);
    return prepared;
  };
  return (text, params) =>
    // runExclusive: the same lock query() and exec() take, so that no other statement (a LISTEN,
    // a raw script) runs between this one's messages.
    pglite.runExclusive(async () => {
      const { name, paramTypes } = statements.get(text) ?? (await prepare(text));
      // Parameters serialized as query() serializes them: by the statement's parameter type.
      const values = params.map((value, i) => {
        if (value === null || value === undefined) return null;
        const serializer = pglite.serializers[paramTypes[i]!];
        return serializer ? serializer(value) : String(value);
      });
      const messages = await pglite.execProtocolStream(
        concat([protocol.serialize.bind({ statement: name, values }), protocol.serialize.describe({ type: "P" }), protocol.serialize.execute({}), protocol.serialize.sync()]),
        { syncToFs: false },
      );
      await pglite.syncToFs();
      return parse.parseResults(messages, pglite.parsers)[0] as Results<never>;
    });
}
