import pg from 'pg';

/**
 * Counts the database's transactions (pg_stat_database xact_commit + xact_rollback) from
 * now: every process's, the projections' and background processes' included. The
 * counter's own reads are transactions too; they are subtracted.
 */
export async function transactionCounter(databaseUrl: string, smoke: boolean) {
  const settleMs = smoke ? 100 : 11_000;
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  let reads = 0;
  const read = async () => {
    reads++;
    const { rows } = await client.query<{ count: string }>(
      `SELECT (xact_commit + xact_rollback)::text AS count FROM pg_stat_database
       WHERE datname = current_database()`,
    );
    return Number(rows[0]!.count);
  };
  /**
   * A backend flushes its counters when it goes idle, but at most once a second; one
   * that went idle sooner flushes 10 s later (PGSTAT_IDLE_INTERVAL). A full run waits
   * that out before each reading; a smoke run (figures unchecked) does not.
   */
  const settled = async () => {
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    return read();
  };
  const start = await settled();
  const readsAtStart = reads;
  return {
    /** Transactions since the counter started, per operation (2 decimals); closes the counter. */
    perOperation: async (operations: number) => {
      const end = await settled();
      await client.end();
      const own = reads - readsAtStart;
      return Number(((end - start - own) / Math.max(1, operations)).toFixed(2));
    },
  };
}
