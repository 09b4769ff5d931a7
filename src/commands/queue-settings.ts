import { decideQueue, queueKind, queueStream, type QueueState } from '../deciders/queue.js';
import type pg from 'pg';
import type { QueueSettings } from '../events/queue.js';
import { foldEvents } from '../events/event.js';
import { WrongExpectedVersionError, type EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { isRefusal } from './decision.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { advisoryLocks, withAdvisoryLock } from '../infrastructure/advisory-locks.js';
import { commandRetries, settingsLockWaitMs } from '../policies.js';

export interface QueueDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  /** The environment's first values, used until the stream `queue` has its first event. */
  readonly firstQueueSettings: QueueSettings;
}

/** The environment's first values (MAX_ACTIVE_TOKENS, QUEUE_ADMISSIONS_PER_MINUTE, QUEUE_OPENS_AT). */
export const firstQueueSettings = (config: {
  MAX_ACTIVE_TOKENS: number;
  QUEUE_ADMISSIONS_PER_MINUTE?: number | undefined;
  QUEUE_OPENS_AT?: string | undefined;
}): QueueSettings => ({
  mode: 'open',
  maxActive: config.MAX_ACTIVE_TOKENS,
  admissionsPerMinute: config.QUEUE_ADMISSIONS_PER_MINUTE ?? null,
  opensAt: config.QUEUE_OPENS_AT ?? null,
});

export async function readQueue(store: EventStore): Promise<QueueState> {
  return foldEvents(queueKind, await store.readStream(queueStream));
}

export const effectiveSettings = (state: QueueState, first: QueueSettings): QueueSettings =>
  state.settings ?? first;

/**
 * Records the first values once (at start-up), so a pre-queue from the environment has a
 * place in the log. Returns the environment variables whose values the recorded settings
 * override (empty on a fresh database): the caller says so, since an operator who sets
 * MAX_ACTIVE_TOKENS on a database that already has settings sees no effect otherwise.
 */
export async function ensureQueueConfigured(deps: QueueDeps): Promise<string[]> {
  const state = await readQueue(deps.store);
  if (state.settings) return overriddenFirstValues(state.settings, deps.firstQueueSettings);
  const events = decideQueue(
    {
      type: 'ConfigureQueue',
      data: { first: deps.firstQueueSettings, now: deps.clock().toISOString() },
    },
    state,
  );
  if (isRefusal(events) || events.length === 0) return [];
  try {
    await deps.store.appendToStream(queueStream, events, { expectedRevision: 'no_stream' });
  } catch (error) {
    // Another process recorded the first values first: theirs stand.
    if (!(error instanceof WrongExpectedVersionError)) throw error;
  }
  return [];
}

/** `NAME=value (recorded: value)` for each first value the recorded settings differ from. */
export function overriddenFirstValues(recorded: QueueSettings, first: QueueSettings): string[] {
  const pairs: [string, string | number | null, string | number | null][] = [
    ['MAX_ACTIVE_TOKENS', first.maxActive, recorded.maxActive],
    ['QUEUE_ADMISSIONS_PER_MINUTE', first.admissionsPerMinute, recorded.admissionsPerMinute],
    ['QUEUE_OPENS_AT', first.opensAt, recorded.opensAt],
  ];
  return pairs
    .filter(([, env, stored]) => env !== stored)
    .map(
      ([name, env, stored]) =>
        `${name}=${String(env ?? '(unset)')} (recorded: ${String(stored ?? 'none')})`,
    );
}

/**
 * An operator's change, appended while holding the admission lock (admission.ts): an
 * admission round reads the settings once and admits under them, so a change may only
 * commit between rounds, never during one. It waits for a running round to end.
 */
export async function changeQueueSettings(
  deps: QueueDeps & { readonly pool: pg.Pool },
  changes: Partial<QueueSettings>,
): Promise<{ state: QueueState; written: Written }> {
  const handled = await withAdvisoryLock(
    deps.pool,
    advisoryLocks.admission,
    settingsLockWaitMs,
    () =>
      handleCommand(
        deps.store,
        queueStream,
        queueKind,
        (state) =>
          decideQueue(
            {
              type: 'ChangeQueueSettings',
              data: { changes, first: deps.firstQueueSettings, now: deps.clock().toISOString() },
            },
            state,
          ),
        { retries: commandRetries.queue },
      ),
  );
  return { state: handled.state, written: writtenBy(handled) };
}
