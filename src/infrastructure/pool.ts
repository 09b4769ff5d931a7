import pg from 'pg';

const int8 = 20;

/** int8 columns (revisions, sequences, money) come back as numbers; none may exceed 2^53. */
function parseInt8(text: string): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value))
    throw new RangeError(`int8 value ${text} exceeds the safe integer range`);
  return value;
}

const types = {
  getTypeParser: ((oid: number, format?: 'text' | 'binary'): unknown =>
    oid === int8
      ? parseInt8
      : (pg.types.getTypeParser(oid, format) as unknown)) as typeof pg.types.getTypeParser,
};

export function createPool(
  connectionString: string,
  max: number,
  searchPath?: string,
  /** Background work (a rebuild) may wait longer for a connection than a request. */
  connectionTimeoutMillis = 5_000,
): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    types,
    // Long-open transactions hold back the gap-safe readers' horizon (docs/event-store.md),
    // so every session of ours is cut off after idling inside a transaction.
    options: `-c idle_in_transaction_session_timeout=30000${searchPath ? ` -c search_path=${searchPath}` : ''}`,
    // A dead peer (partition, failover) is noticed by the OS instead of never.
    keepAlive: true,
    keepAliveInitialDelayMillis: 10_000,
    // While PostgreSQL is down a request fails fast with 503 instead of queueing forever.
    connectionTimeoutMillis,
  });
  // An idle client losing its connection must not crash the process; the pool replaces it,
  // and the next query on it reports the failure where it can be handled.
  pool.on('error', () => undefined);
  // A checked-out client (a kysely transaction, admission's lock, a LISTEN connection)
  // has no pool listener while out: without its own, a terminated backend emits an
  // unhandled 'error' and kills the process. Its pending query rejects anyway, and the
  // pool drops the dead client when it comes back.
  pool.on('connect', (client) => {
    client.on('error', () => undefined);
  });
  return pool;
}
