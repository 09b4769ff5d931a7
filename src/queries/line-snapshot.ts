import { sql } from 'kysely';
import type { QueueSettings } from '../events/queue.js';
import type { Db } from '../projections/database.js';
import type { LineSnapshot } from './queue-estimate.js';

/** How far back the line's recent movement (its rounds, its refills) is read. */
const recentSeconds = 30;

/** Reads the line's snapshot; callers cache it (one read serves every poller). */
export async function readLineSnapshot(
  db: Db,
  now: Date,
  settings: QueueSettings,
  options: { ttlSeconds: number; admissionIntervalMs: number },
): Promise<LineSnapshot> {
  const meanPassSeconds = await readMeanPassSeconds(db, now, options.ttlSeconds);
  const activeRemaining = await readActiveRemaining(db, now, settings, options, meanPassSeconds);
  const { count } = await db
    .selectFrom('tokens')
    .select(sql<number>`count(*)::int`.as('count'))
    .where('admitted_at', '>', new Date(now.getTime() - 60_000))
    .executeTakeFirstOrThrow();
  const opensAt = settings.opensAt ? Date.parse(settings.opensAt) : 0;
  return {
    settings,
    takenAt: now.getTime(),
    activeRemaining,
    meanPassSeconds,
    ttlSeconds: options.ttlSeconds,
    roundTimes: await readRoundTimes(db, now),
    refillLags: await readRefillLags(db, now, options.ttlSeconds),
    admittedLastMinute: count,
    admissionIntervalSeconds: options.admissionIntervalMs / 1000,
    secondsToOpening: Math.max(0, (opensAt - now.getTime()) / 1000),
  };
}

/** Passes that ended early (a payment) in the last few minutes say how long one lasts. */
async function readMeanPassSeconds(db: Db, now: Date, ttlSeconds: number): Promise<number> {
  const since = now.getTime() - 300_000;
  const ended = await db
    .selectFrom('tokens')
    .select(
      sql<number | null>`avg(extract(epoch FROM updated_at - admitted_at))::float8`.as('mean'),
    )
    // A pass that ended in the window was admitted at most a TTL before it (the index).
    .where('admitted_at', '>', new Date(since - ttlSeconds * 1000))
    .where('status', '=', 'expired')
    .where('updated_at', '>', new Date(since))
    .executeTakeFirst();
  return Math.min(ttlSeconds, ended?.mean ?? ttlSeconds);
}

/** Seconds each live pass has left, soonest first. */
async function readActiveRemaining(
  db: Db,
  now: Date,
  settings: QueueSettings,
  options: { admissionIntervalMs: number },
  meanPassSeconds: number,
): Promise<number[]> {
  // A pass whose time is up holds its slot until the next admission round records its end:
  // counted as ending now, so a line whose slots turn over stays a full line instead of
  // showing free slots that the next round has not freed yet.
  const roundsLate = new Date(now.getTime() - Math.max(2000, 3 * options.admissionIntervalMs));
  const active = await db
    .selectFrom('tokens')
    .select(['admitted_at', 'expires_at'])
    .where('status', '=', 'pass')
    .where('expires_at', '>', roundsLate)
    .orderBy('admitted_at')
    .limit(settings.maxActive + 1000)
    .execute();
  return active
    .map((pass) => {
      const expected = pass.admitted_at!.getTime() + meanPassSeconds * 1000;
      return Math.max(0, Math.min(expected, pass.expires_at!.getTime()) - now.getTime()) / 1000;
    })
    .sort((a, b) => a - b);
}

/** The times the recent admission rounds ran (every admission of a round shares it). */
async function readRoundTimes(db: Db, now: Date): Promise<number[]> {
  const rounds = await db
    .selectFrom('tokens')
    .select('admitted_at')
    .distinct()
    .where('admitted_at', '>', new Date(now.getTime() - recentSeconds * 1000))
    .where('admitted_at', '<=', now)
    .orderBy('admitted_at', 'desc')
    .limit(200)
    .execute();
  return rounds.map((round) => (round.admitted_at!.getTime() - now.getTime()) / 1000).reverse();
}

/**
 * For each pass that ended in the last 30 s (its TTL, a payment, a revocation), the
 * seconds until the first admission after its end: the round that gave its slot to the
 * next in line. One index probe per ended pass, the most recent 500.
 */
async function readRefillLags(db: Db, now: Date, ttlSeconds: number): Promise<number[]> {
  const since = now.getTime() - recentSeconds * 1000;
  const { rows } = await sql<{ lag: number | null }>`
    WITH ended AS (
      SELECT updated_at AS ended_at FROM tokens
      WHERE admitted_at > ${new Date(since - ttlSeconds * 1000)} AND status = 'expired'
        AND updated_at > ${new Date(since)} AND updated_at <= ${now}
      ORDER BY updated_at DESC LIMIT 500)
    SELECT extract(epoch FROM (SELECT min(admitted_at) FROM tokens
                               WHERE admitted_at >= ended.ended_at AND admitted_at <= ${now})
                             - ended_at)::float8 AS lag
    FROM ended`.execute(db);
  return rows.flatMap((row) => (row.lag === null ? [] : [row.lag]));
}
