import { sql } from 'kysely';
import type pg from 'pg';
import { tokenKind, tokenStream, type TokenEvent, type TokenState } from '../events/token.js';
import { advisoryLocks } from '../infrastructure/advisory-locks.js';
import type { EventStore } from '../events/store/port.js';
import type { Db } from '../projections/database.js';
import type { ProjectionRunner } from '../projections/runner.js';
import type { QueueSettings } from '../events/queue.js';
import { addSeconds, isAtOrAfter, type Clock } from './clock.js';
import { isDomainError } from './errors.js';
import { handleCommand } from './handle-command.js';
import { commandRetries } from '../policies.js';
import type { RandomInt } from './queue-draw.js';
import { openAndDraw, tokensProjectionTypes } from './queue-opening.js';
import { effectiveSettings, firstQueueSettings, readQueue } from './queue-settings.js';

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
  /** The first cap, used until the stream `queue` says otherwise. */
  readonly maxActiveTokens: number;
  readonly tokenTtlSeconds: number;
  /** The environment's first queue settings (default: open, the cap above, no rate). */
  readonly firstQueueSettings?: QueueSettings;
  /** The opening draw's randomness (default: cryptographic). */
  readonly random?: RandomInt;
}

const admissionLockId = advisoryLocks.admission;

/**
 * How many waiting tokens this round may admit under the live settings: none while a
 * pre-queue runs or while paused; every one in passthrough; otherwise the free slots,
 * and no more than the rate's budget for the last 60 s (so no 60 s window ever holds
 * more than admissionsPerMinute admissions).
 */
export function admissionBudget(
  settings: QueueSettings,
  counts: { active: number; admittedLastMinute: number },
): number {
  if (settings.opensAt !== null || settings.mode === 'paused') return 0;
  if (settings.mode === 'passthrough') return Number.POSITIVE_INFINITY;
  const free = settings.maxActive - counts.active;
  const rate =
    settings.admissionsPerMinute === null
      ? Number.POSITIVE_INFINITY
      : settings.admissionsPerMinute - counts.admittedLastMinute;
  return Math.max(0, Math.min(free, rate));
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
): Promise<{ admitted: number; expired: number } | undefined> {
  const client = await deps.pool.connect();
  try {
    const { rows } = await client.query<{ locked: boolean }>(
      'SELECT pg_try_advisory_lock($1) AS locked',
      [admissionLockId],
    );
    if (!rows[0]?.locked) return undefined;
    try {
      await openAndDraw(deps);
      const head = await deps.store.headPosition({ eventTypes: tokensProjectionTypes });
      if (
        !(await deps.runner.waitFor({ position: head, eventTypes: tokensProjectionTypes }, 10_000))
      )
        return { admitted: 0, expired: 0 };
      // Read after the projection caught up: the settings this round obeys.
      const settings = effectiveSettings(
        await readQueue(deps.store),
        deps.firstQueueSettings ?? firstQueueSettings({ MAX_ACTIVE_TOKENS: deps.maxActiveTokens }),
      );
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
      const { admittedLastMinute } = await deps.db
        .selectFrom('tokens')
        .select(sql<number>`count(*)::int`.as('admittedLastMinute'))
        .where('admitted_at', '>=', new Date(now.getTime() - 60_000))
        .executeTakeFirstOrThrow();
      const budget = Math.min(1000, admissionBudget(settings, { active, admittedLastMinute }));
      if (budget <= 0) return { admitted: 0, expired };
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
