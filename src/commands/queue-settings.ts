import {
  queueKind,
  queueStream,
  type QueueEvent,
  type QueueSettings,
  type QueueState,
} from '../events/queue.js';
import { foldEvents } from '../events/event.js';
import { WrongExpectedVersionError, type EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { DomainError } from './errors.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

/**
 * Decisions on the stream `queue`. Pure: the time and the drawn order arrive in the
 * command, so a decision is the same on every process and in every test.
 */
export type QueueCommand =
  | { type: 'ConfigureQueue'; first: QueueSettings; now: string }
  | {
      type: 'ChangeQueueSettings';
      changes: Partial<QueueSettings>;
      first: QueueSettings;
      now: string;
    }
  | { type: 'OpenQueueIfDue'; now: string }
  | { type: 'DrawPrequeue'; round: number; order: readonly string[]; now: string };

const isFuture = (time: string, now: string) => Date.parse(time) > Date.parse(now);

function configured(first: QueueSettings, now: string): QueueEvent {
  // A first opening already past is no pre-queue at all.
  const opensAt = first.opensAt && isFuture(first.opensAt, now) ? first.opensAt : null;
  return { type: 'QueueConfigured', data: { ...first, opensAt, configuredAt: now } };
}

export function decideQueue(command: QueueCommand, state: QueueState): QueueEvent[] {
  switch (command.type) {
    case 'ConfigureQueue':
      return state.settings ? [] : [configured(command.first, command.now)];
    case 'ChangeQueueSettings': {
      const { changes, now } = command;
      if (Object.keys(changes).length === 0)
        throw new DomainError('VALIDATION_FAILED', 'name at least one setting to change');
      if (changes.opensAt && !isFuture(changes.opensAt, now))
        throw new DomainError('VALIDATION_FAILED', 'opensAt must be in the future (or null)', {
          errors: [{ field: 'body.opensAt', message: 'must be a future time or null' }],
        });
      const events: QueueEvent[] = state.settings ? [] : [configured(command.first, now)];
      const before = state.settings ?? (events[0]!.data as QueueSettings);
      events.push({ type: 'QueueSettingsChanged', data: { changes, changedAt: now } });
      // Clearing the opening of a running pre-queue opens it now.
      if (changes.opensAt === null && before.opensAt !== null)
        events.push({ type: 'QueueOpened', data: { round: state.openings + 1, openedAt: now } });
      return events;
    }
    case 'OpenQueueIfDue': {
      const opensAt = state.settings?.opensAt;
      if (!opensAt || isFuture(opensAt, command.now)) return [];
      return [{ type: 'QueueOpened', data: { round: state.openings + 1, openedAt: command.now } }];
    }
    case 'DrawPrequeue':
      if (state.pendingDraw !== command.round) return [];
      return [
        {
          type: 'PrequeueDrawn',
          data: { round: command.round, order: [...command.order], drawnAt: command.now },
        },
      ];
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

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
    { type: 'ConfigureQueue', first: deps.firstQueueSettings, now: deps.clock().toISOString() },
    state,
  );
  if (events.length === 0) return;
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
          changes,
          first: deps.firstQueueSettings,
          now: deps.clock().toISOString(),
        },
        state,
      ),
    { retries: commandRetries.queue },
  );
  return { state: handled.state, written: writtenBy(handled) };
}
