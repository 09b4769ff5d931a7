import type pg from 'pg';

/** Every PostgreSQL advisory lock the service takes, in one place so ids never collide. */
export const advisoryLocks = {
  /** Event store schema migration (events/store/postgres/schema.ts). */
  eventStoreMigration: 7_331_001,
  /** The one process that runs the projections (projections/runner.ts). */
  projectionLeader: 7_331_002,
  /** The one admitter acting at a time (commands/admission.ts). */
  admission: 7_331_003,
  /** Read-model table creation and version resets (withSetupLock, projections/checkpoints.ts). */
  projectionSetup: 7_331_004,
  /** Creating the shared service keys (api/stream-tickets.ts). */
  serviceKeys: 7_331_005,
  /** Creating the join rate limit table (api/join-rate-limit.ts). */
  joinRateLimitSetup: 7_331_006,
  /** A projection's rebuild, with the projection's name hashed as the second key (projections/rebuild.ts). */
  projectionRebuild: 7_331_007,
} as const;

/**
 * Runs `fn` while this session holds the advisory lock `id` for the length of a
 * transaction on its own pooled connection (the work itself may use other connections).
 * Waits for the lock at most `timeoutMs`; past that PostgreSQL refuses with 55P03
 * (lock_not_available), an infrastructure error: the caller answers 503 and may retry.
 */
export async function withAdvisoryLock<T>(
  pool: pg.Pool,
  id: number,
  timeoutMs: number,
  fn: () => Promise<T>,
): Promise<T> {
  const client = await pool.connect();
  let broken: unknown;
  try {
    await client.query('BEGIN');
    await client.query(`SELECT set_config('lock_timeout', $1, true)`, [`${timeoutMs}ms`]);
    await client.query('SELECT pg_advisory_xact_lock($1)', [id]);
    const result = await fn();
    await client.query('COMMIT');
    return result;
  } catch (error) {
    await client.query('ROLLBACK').catch((rollback: unknown) => (broken = rollback));
    throw error;
  } finally {
    client.release(broken instanceof Error ? broken : undefined);
  }
}
