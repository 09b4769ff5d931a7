import type pg from 'pg';
import { sleep } from '../infrastructure/sleep.js';

/** How often the leader confirms it still holds its lock (and how long it waits for the answer). */
const leadershipCheckMs = 2000;

/**
 * The lock connection's 'error' event alone misses a silent partition: every few
 * seconds ask the server whether this session still holds the lock, and give up
 * leadership the moment the answer is no, an error, or late.
 */
export async function checkLeadership(
  client: pg.PoolClient,
  lockId: number,
  lost: AbortController,
  log?: { info(message: string): void },
): Promise<void> {
  while (!lost.signal.aborted) {
    await sleep(leadershipCheckMs, lost.signal);
    if (lost.signal.aborted) return;
    const timeout = new Promise<false>((resolve) =>
      setTimeout(() => resolve(false), leadershipCheckMs).unref(),
    );
    const held = await Promise.race([
      client
        .query<{ held: boolean }>(
          `SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory'
             AND objid = $1 AND objsubid = 1 AND pid = pg_backend_pid() AND granted) AS held`,
          [lockId],
        )
        .then(({ rows }) => rows[0]?.held === true)
        .catch(() => false),
      timeout,
    ]);
    if (!held) {
      log?.info('projection runner: leadership in doubt; stepping down');
      lost.abort();
    }
  }
}

/** Asks for the lock on a fresh connection: the client when granted, undefined otherwise. */
export async function tryLeadership(
  pool: pg.Pool,
  lockId: number,
  log?: { error(error: unknown, message: string): void },
): Promise<pg.PoolClient | undefined> {
  const client = await pool.connect().catch((error: unknown) => {
    log?.error(error, 'projection runner: no connection; trying again');
    return undefined;
  });
  if (!client) return undefined;
  const { rows } = await client
    .query<{ locked: boolean }>('SELECT pg_try_advisory_lock($1) AS locked', [lockId])
    .catch((error: unknown) => {
      log?.error(error, 'projection runner: could not ask for leadership');
      return { rows: [] };
    });
  if (rows[0]?.locked) return client;
  client.release();
  return undefined;
}
