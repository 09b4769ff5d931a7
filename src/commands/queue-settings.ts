import { decideQueue, queueKind, queueStream, type QueueState } from '../deciders/queue.js';
import type { QueueSettings } from '../events/queue.js';
import { foldEvents } from '../events/event.js';
import { WrongExpectedVersionError, type EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { isRefusal } from './decision.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

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

/** Records the first values once (at start-up), so a pre-queue from the environment has a place in the log. */
export async function ensureQueueConfigured(deps: QueueDeps): Promise<void> {
  const state = await readQueue(deps.store);
  const events = decideQueue(
    {
      type: 'ConfigureQueue',
      data: { first: deps.firstQueueSettings, now: deps.clock().toISOString() },
    },
    state,
  );
  if (isRefusal(events) || events.length === 0) return;
  try {
    await deps.store.appendToStream(queueStream, events, { expectedRevision: 'no_stream' });
  } catch (error) {
    // Another process recorded the first values first: theirs stand.
    if (!(error instanceof WrongExpectedVersionError)) throw error;
  }
}

export async function changeQueueSettings(
  deps: QueueDeps,
  changes: Partial<QueueSettings>,
): Promise<{ state: QueueState; written: Written }> {
  const handled = await handleCommand(
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
  );
  return { state: handled.state, written: writtenBy(handled) };
}
