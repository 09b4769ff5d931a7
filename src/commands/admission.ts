import { sql } from 'kysely';
import type pg from 'pg';
import { tokenKind, tokenStream, type TokenEvent, type TokenState } from '../events/token.js';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import type { EventStore } from '../events/store/port.js';
import type { Db } from '../projections/database.js';
import type { ProjectionRunner } from '../projections/runner.js';
import { addSeconds, isAtOrAfter, type Clock } from './clock.js';
import { isDomainError } from './errors.js';
import { handleCommand } from './handle-command.js';
import { commandRetries } from '../policies.js';

export function decideAdmitToken(
  command: { tokenId: string; now: string; ttlSeconds: number },
  state: TokenState,
): TokenEvent[] {
  const current = state.current;
  if (current?.tokenId !== command.tokenId || current.status !== 'hold') return [];
  return [
    {
      type: 'TokenAdmitted',
      data: {
        tokenId: current.tokenId,
        userId: current.userId,
        admittedAt: command.now,
        expiresAt: addSeconds(command.now, command.ttlSeconds),
      },
    },
  ];
}

export function decideExpireToken(
  command: { tokenId: string; now: string },
  state: TokenState,
): TokenEvent[] {
  const current = state.current;
  if (current?.tokenId !== command.tokenId || current.status !== 'pass') return [];
  if (!isAtOrAfter(command.now, current.expiresAt)) return [];
  return [
    {
      type: 'TokenExpired',
      data: {
        tokenId: current.tokenId,
        userId: current.userId,
        reason: 'ttl',
        expiredAt: current.expiresAt,
      },
    },
  ];
}

export interface AdmissionDeps {
  readonly store: EventStore;
  readonly db: Db;
  readonly pool: pg.Pool;
  readonly clock: Clock;
  readonly runner: ProjectionRunner;
  readonly maxActiveTokens: number;
  readonly tokenTtlSeconds: number;
}

const admissionLockId = advisoryLocks.admission;
const tokenEventTypes = ['TokenIssued', 'TokenAdmitted', 'TokenExpired'];

/**
 * One admission round: expire overdue passes, then promote the oldest waiting tokens
 * into the free slots, in queue order. Only the holder of an advisory lock acts, and it
 * first waits until the tokens read model reflects the whole log, so the count it
 * decides on includes every earlier round of every process: capacity is never exceeded.
 * Returns undefined when another admitter holds the lock.
 */
export async function admitWaitingTokens(
  deps: AdmissionDeps,
): Promise<{ admitted: number; expired: number } | undefined> {
  const client = await deps.pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1) AS locked',
      [admissionLockId],
    );
    if (!rows[0]?.locked) return undefined;
    try {
      const head = await deps.store.headPosition({ eventTypes: tokenEventTypes });
      if (!(await deps.runner.waitFor({ position: head, eventTypes: tokenEventTypes }, 10_000)))
        return { admitted: 0, expired: 0 };
      const now = deps.clock();
      const nowIso = now.toISOString();

      const overdue = await deps.db
        .selectFrom('tokens')
        .select(['token_id', 'user_id'])
        .where('status', '=', 'pass')
        .where('expires_at', '<=', now)
        .limit(1000)
        .execute();
      let expired = 0;
      for (const token of overdue) {
        const handled = await handleCommand(
          deps.store,
          tokenStream(token.user_id),
          tokenKind,
          (state) => decideExpireToken({ tokenId: token.token_id, now: nowIso }, state),
          { retries: commandRetries.admission },
        );
        expired += handled.events.length;
      }

      const { active } = await deps.db
        .selectFrom('tokens')
        .select(sql<number>`count(*)::int`.as('active'))
        .where('status', '=', 'pass')
        .where('expires_at', '>', now)
        .executeTakeFirstOrThrow();
      const free = deps.maxActiveTokens - active;
      if (free <= 0) return { admitted: 0, expired };
      const waiting = await deps.db
        .selectFrom('tokens')
        .select(['token_id', 'user_id'])
        .where('status', '=', 'hold')
        .orderBy('queue_number')
        .limit(free)
        .execute();
      let admitted = 0;
      // One at a time, in queue order, so that the log order of admissions is FIFO too.
      for (const token of waiting) {
        try {
          const handled = await handleCommand(
            deps.store,
            tokenStream(token.user_id),
            tokenKind,
            (state) =>
              decideAdmitToken(
                { tokenId: token.token_id, now: nowIso, ttlSeconds: deps.tokenTtlSeconds },
                state,
              ),
            { retries: commandRetries.admission },
          );
          admitted += handled.events.length;
        } catch (error) {
          if (!isDomainError(error, 'CONCURRENCY_CONFLICT')) throw error;
        }
      }
      return { admitted, expired };
    } finally {
      await client.query('SELECT pg_advisory_unlock($1)', [admissionLockId]);
    }
  } finally {
    client.release();
  }
}
