import { sql } from 'kysely';
import type { Clock } from '../commands/clock.js';
import { DomainError } from '../commands/errors.js';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import type { Db } from '../projections/database.js';

const windowMs = 60_000;

/**
 * Joins per user per minute, counted in PostgreSQL so every API process shares one count.
 * Each user has a fixed one-minute window that starts at their first join after the last
 * window ended; one upsert counts the join and reads the total atomically (the row lock
 * orders concurrent joins), so N processes cannot each let the limit through.
 */
export async function createJoinRateLimit(deps: { db: Db; clock: Clock; perMinute: number }) {
  const { db, clock, perMinute } = deps;
  await db.transaction().execute(async (trx) => {
    // Concurrent CREATE TABLE IF NOT EXISTS can still collide: one process creates it.
    await sql`SELECT pg_advisory_xact_lock(${advisoryLocks.joinRateLimitSetup})`.execute(trx);
    await sql`CREATE TABLE IF NOT EXISTS join_rate_limits (
      user_id text PRIMARY KEY,
      window_start timestamptz NOT NULL,
      joins integer NOT NULL
    )`.execute(trx);
  });

  let lastSweep = 0;
  /** Forget ended windows now and then, so the table holds only recent joiners. */
  async function sweep(now: Date) {
    if (now.getTime() - lastSweep < windowMs) return;
    lastSweep = now.getTime();
    const before = new Date(now.getTime() - windowMs);
    await sql`DELETE FROM join_rate_limits WHERE window_start < ${before}`.execute(db);
  }

  /** Counts one join by `userId`; refuses with RATE_LIMITED once the window is full. */
  return async function countJoin(userId: string): Promise<void> {
    const now = clock();
    const ended = new Date(now.getTime() - windowMs);
    const { rows } = await sql<{ window_start: Date; joins: number }>`
      INSERT INTO join_rate_limits AS l (user_id, window_start, joins)
      VALUES (${userId}, ${now}, 1)
      ON CONFLICT (user_id) DO UPDATE SET
        window_start = CASE WHEN l.window_start <= ${ended} THEN ${now} ELSE l.window_start END,
        joins = CASE WHEN l.window_start <= ${ended} THEN 1 ELSE l.joins + 1 END
      RETURNING window_start, joins`.execute(db);
    await sweep(now);
    const row = rows[0]!;
    if (row.joins <= perMinute) return;
    const retryAfterSeconds = Math.max(
      1,
      Math.ceil((row.window_start.getTime() + windowMs - now.getTime()) / 1000),
    );
    throw new DomainError(
      'RATE_LIMITED',
      `at most ${perMinute} joins a minute per user; try again in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  };
}

export type CountJoin = Awaited<ReturnType<typeof createJoinRateLimit>>;
