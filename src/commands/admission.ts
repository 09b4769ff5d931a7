import { sql } from 'kysely';
import type pg from 'pg';
import { decideToken, tokenKind, tokenStream, type TokenCommand } from '../deciders/token.js';
import { admissionBudget } from '../deciders/queue.js';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import { comparePositions, type EventStore, type Position } from '../events/store/port.js';
import type { Db } from '../projections/database.js';
import type { ProjectionRunner } from '../projections/runner.js';
import type { QueueSettings } from '../events/queue.js';
import type { Clock } from './clock.js';
import { isDomainError } from './errors.js';
import { handleCommand, handleTogether } from './handle-command.js';
import { commandRetries } from '../policies.js';
import type { RandomInt } from './queue-draw.js';
import { openAndDraw, tokensProjectionTypes } from './queue-opening.js';
import { effectiveSettings, firstQueueSettings, readQueue } from './queue-settings.js';

export interface AdmissionDeps {
  readonly store: EventStore;
  readonly db: Db;
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly runner: ProjectionRunner;
  /** The first cap, used until the stream `queue` says otherwise. */
  readonly maxActiveTokens: number;
  readonly tokenTtlSeconds: number;
  /** The environment's first queue settings (default: open, the cap above, no rate). */
  readonly firstQueueSettings?: QueueSettings;
  /** The opening draw's randomness (default: cryptographic). */
  readonly random?: RandomInt;
}

const admissionLockId = advisoryLocks.admission;

/** What an admission round did; `quiet` when it found nothing to do and until when. */
export interface AdmissionRound {
  readonly admitted: number;
  readonly expired: number;
  readonly quiet?: Quiet;
  /** The log head (tokens events) and the time the round decided on, when it decided. */
  readonly decidedOn?: { readonly head: Position; readonly at: Date };
}

/**
 * A round that changed nothing also says when the next one could: not before the log's
 * tokens events move past `head` (a join, a leave, a settings change, another process's
 * admission) or the clock reaches `until` (the next pass expiry, the rate window letting
 * one more in, the opening). Until then a round would read the same rows and decide the
 * same nothing: the loop skips it for one statement (the head) instead of about ten.
 */
export interface Quiet {
  readonly head: Position;
  readonly until: Date;
}

/** True while nothing a round decides on can have changed since a round that did nothing. */
export async function admissionIsQuiet(deps: AdmissionDeps, quiet: Quiet): Promise<boolean> {
  if (deps.clock().getTime() >= quiet.until.getTime()) return false;
  const head = await deps.store.headPosition({ eventTypes: tokensProjectionTypes });
  return comparePositions(head, quiet.head) === 0;
}

/**
 * One admission round: expire overdue passes, then promote the oldest waiting tokens
 * into the free slots, in queue order. Only the holder of an advisory lock acts, and it
 * first waits until the tokens read model reflects the whole log, so the count it
 * decides on includes every earlier round of every process: capacity is never exceeded.
 * Returns undefined when another admitter holds the lock.
 */
export async function admitWaitingTokens(
  deps: AdmissionDeps,
): Promise<AdmissionRound | undefined> {
  const client = await deps.pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1) AS locked',
      [admissionLockId],
    );
    if (!rows[0]?.locked) return undefined;
    try {
      return await admissionRound(deps);
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [admissionLockId]);
    }
  } finally {
    client.release();
  }
}

/** Tokens one round expires or admits at most: bounds a round's length after a backlog. */
const roundLimit = 1000;
/** How long a round waits for the tokens projection before leaving it to the next round. */
const catchUpTimeoutMs = 10_000;

async function admissionRound(deps: AdmissionDeps): Promise<AdmissionRound> {
  const opening = await openAndDraw(deps);
  const head = await deps.store.headPosition({ eventTypes: tokensProjectionTypes });
  const caughtUp = await deps.runner.waitFor(
    { position: head, eventTypes: tokensProjectionTypes },
    catchUpTimeoutMs,
  );
  if (!caughtUp) return { admitted: 0, expired: 0 };
  // Read after the projection caught up: the settings this round obeys.
  const settings = effectiveSettings(
    await readQueue(deps.store),
    deps.firstQueueSettings ?? firstQueueSettings({ MAX_ACTIVE_TOKENS: deps.maxActiveTokens }),
  );
  const now = deps.clock();
  const expired = await expireOverduePasses(deps, now);
  const counts = await admissionCounts(deps.db, now);
  const budget = Math.min(roundLimit, admissionBudget(settings, counts));
  const admitted = budget > 0 ? await admitInQueueOrder(deps, now, budget) : 0;
  const decidedOn = { head, at: now };
  const idle =
    admitted === 0 && expired === 0 && opening.position === undefined && !opening.drawPending;
  if (!idle) return { admitted, expired, decidedOn };
  const until = [counts.nextExpiry, settings.opensAt === null ? null : new Date(settings.opensAt)];
  // A rate-limited line may take one more when its oldest admission leaves the window.
  if (settings.admissionsPerMinute !== null && counts.oldestInWindow)
    until.push(new Date(counts.oldestInWindow.getTime() + 60_000));
  const due = until.filter((at): at is Date => at !== null).map((at) => at.getTime());
  return {
    admitted,
    expired,
    decidedOn,
    quiet: { head, until: new Date(due.length > 0 ? Math.min(...due) : 8.64e15) },
  };
}

/** One token command with the admission's retries; returns how many events it wrote. */
async function onToken(deps: AdmissionDeps, userId: string, command: TokenCommand) {
  const handled = await handleCommand(
    deps.store,
    tokenStream(userId),
    tokenKind,
    (state) => decideToken(command, state),
    { retries: commandRetries.admission },
  );
  return handled.events.length;
}

async function expireOverduePasses(deps: AdmissionDeps, now: Date): Promise<number> {
  const overdue = await deps.db
    .selectFrom('tokens')
    .select(['token_id', 'user_id'])
    .where('status', '=', 'pass')
    .where('expires_at', '<=', now)
    .limit(roundLimit)
    .execute();
  const commands = overdue.map((token) => ({
    userId: token.user_id,
    command: {
      type: 'ExpireToken',
      data: { tokenId: token.token_id, now: now.toISOString() },
    } satisfies TokenCommand,
  }));
  const together = await onTokensTogether(deps, commands);
  if (together !== undefined) return together;
  let expired = 0;
  for (const { userId, command } of commands) expired += await onToken(deps, userId, command);
  return expired;
}

/**
 * A round's token commands in one append (one transaction on PostgreSQL), so the tokens
 * projection and every waiting stream see the whole round at once; undefined when a
 * token stream had moved on and the round goes one token at a time instead.
 */
function onTokensTogether(
  deps: AdmissionDeps,
  commands: readonly { userId: string; command: TokenCommand }[],
): Promise<number | undefined> {
  return handleTogether(
    deps.store,
    tokenKind,
    commands.map(({ userId, command }) => ({
      streamName: tokenStream(userId),
      decide: (state) => decideToken(command, state),
    })),
  );
}

/**
 * The counts a round's budget needs, and when they next change with time alone: the
 * earliest pass expiry and the oldest admission still inside the rate window.
 */
async function admissionCounts(db: Db, now: Date) {
  const windowStart = new Date(now.getTime() - 60_000);
  const { rows } = await sql<{
    active: number;
    admittedLastMinute: number;
    nextExpiry: Date | null;
    oldestInWindow: Date | null;
  }>`SELECT
       (SELECT count(*)::int FROM tokens WHERE status = 'pass' AND expires_at > ${now}) AS "active",
       (SELECT count(*)::int FROM tokens WHERE admitted_at >= ${windowStart}) AS "admittedLastMinute",
       (SELECT min(expires_at) FROM tokens WHERE status = 'pass' AND expires_at > ${now}) AS "nextExpiry",
       (SELECT min(admitted_at) FROM tokens WHERE admitted_at >= ${windowStart}) AS "oldestInWindow"`.execute(
    db,
  );
  return rows[0]!;
}

async function admitInQueueOrder(deps: AdmissionDeps, now: Date, budget: number) {
  // Never past a block reserved for a draw not yet recorded: those places come first.
  const waiting = await deps.db
    .selectFrom('tokens')
    .select(['token_id', 'user_id'])
    .where('status', '=', 'hold')
    .where('queue_number', 'is not', null)
    .where(
      sql<boolean>`queue_number <= coalesce((SELECT min(base) FROM queue_draws WHERE NOT drawn), 9223372036854775807)`,
    )
    .orderBy('queue_number')
    .limit(budget)
    .execute();
  const commands = waiting.map((token) => ({
    userId: token.user_id,
    command: {
      type: 'AdmitToken',
      data: { tokenId: token.token_id, now: now.toISOString(), ttlSeconds: deps.tokenTtlSeconds },
    } satisfies TokenCommand,
  }));
  // In queue order, so that the log order of admissions is FIFO too: all in one append,
  // or one at a time when a token stream had moved on.
  const together = await onTokensTogether(deps, commands);
  if (together !== undefined) return together;
  let admitted = 0;
  for (const { userId, command } of commands) {
    try {
      admitted += await onToken(deps, userId, command);
    } catch (error) {
      // Still contended after its retries: the next round admits it.
      if (!isDomainError(error, 'CONCURRENCY_CONFLICT')) throw error;
    }
  }
  return admitted;
}
