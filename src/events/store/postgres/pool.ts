import pg from 'pg';

/**
 * Long-open transactions hold back the gap-safe readers' horizon (docs/event-store.md),
 * so every session of ours is cut off after idling inside a transaction.
 */
export function createPool(connectionString: string, max: number): pg.Pool {
  const pool = new pg.Pool({
    connectionString,
    max,
    options: '-c idle_in_transaction_session_timeout=30000',
  });
  // An idle client losing its connection must not crash the process; the pool replaces it.
  pool.on('error', () => undefined);
  return pool;
}
