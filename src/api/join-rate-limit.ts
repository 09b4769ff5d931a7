import { sql } from 'kysely';
import type { Clock } from '../commands/clock.js';
import { DomainError } from '../commands/errors.js';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import { coalesce } from '../infrastructure/coalesce.js';
import type { Db } from '../projections/database.js';

const windowMs = 60_000;

/**
 * Joins per user per minute, counted in PostgreSQL so every API process shares one count.
 * Each user has a fixed one-minute window that starts at their first join after the last
 * window ended; one upsert counts the join and reads the total atomically (the row lock
 * orders concurrent joins), so N processes cannot each let the limit through. The joins
 * arriving while an upsert is in flight share the next one (coalesce.ts): under load a
 * join costs a fraction of a transaction, not one.
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

  /**
   * Counts the joins of one batch in one upsert: a user who joins k times in the batch
   * adds k, and their calls get the running totals in order. Users are sorted so that
   * two processes' batches lock shared rows in the same order.
   */
  const countBatch = coalesce(async (userIds: readonly string[]) => {
    const now = clock();
    const ended = new Date(now.getTime() - windowMs);
    const counts = new Map<string, number>();
    for (const userId of userIds) counts.set(userId, (counts.get(userId) ?? 0) + 1);
    const users = [...counts.keys()].sort();
    const { rows } = await sql<{ user_id: string; window_start: Date; joins: number }>`
      INSERT INTO join_rate_limits AS l (user_id, window_start, joins)
      SELECT v.user_id, ${now}::timestamptz, v.joins
      FROM unnest(${users}::text[], ${users.map((user) => counts.get(user)!)}::int[])
        AS v(user_id, joins)
      ORDER BY v.user_id
      ON CONFLICT (user_id) DO UPDATE SET
        window_start = CASE WHEN l.window_start <= ${ended} THEN ${now} ELSE l.window_start END,
        joins = CASE WHEN l.window_start <= ${ended} THEN EXCLUDED.joins ELSE l.joins + EXCLUDED.joins END
      RETURNING user_id, window_start, joins`.execute(db);
    await sweep(now);
    const totals = new Map(rows.map((row) => [row.user_id, row]));
    // The first of a user's k calls in this batch counts total - k + 1, the last total.
    const seen = new Map<string, number>();
    return userIds.map((userId) => {
      const row = totals.get(userId)!;
      const before = seen.get(userId) ?? 0;
      seen.set(userId, before + 1);
      return {
        windowStart: row.window_start,
        joins: row.joins - counts.get(userId)! + before + 1,
      };
    });
  });

  /** Counts one join by `userId`; refuses with RATE_LIMITED once the window is full. */
  return async function countJoin(userId: string): Promise<void> {
    const { windowStart, joins } = await countBatch(userId);
    if (joins <= perMinute) return;
    const now = clock();
    const retryAfterSeconds = Math.max(
      1,
      Math.ceil((windowStart.getTime() + windowMs - now.getTime()) / 1000),
    );
    throw new DomainError(
      'RATE_LIMITED',
      `at most ${perMinute} joins a minute per user; try again in ${retryAfterSeconds} s`,
      { retryAfterSeconds },
    );
  };
}

export type CountJoin = Awaited<ReturnType<typeof createJoinRateLimit>>;
