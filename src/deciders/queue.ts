import { refuse, type Decision } from '../commands/decision.js';
import type { QueueEvent, QueueSettings, QueueState } from '../events/queue.js';

export { queueKind, queueStream, type QueueEvent, type QueueState } from '../events/queue.js';

/**
 * Every decision about the waiting queue's settings and openings (stream `queue`; its
 * events and evolve are in events/queue.ts). Pure: the time and the drawn order arrive in
 * the command, so a decision is the same on every process and in every test.
 */
export type QueueCommand =
  | { type: 'ConfigureQueue'; data: { first: QueueSettings; now: string } }
  | { type: 'ChangeQueueSettings'; data: ChangeQueueSettings }
  | { type: 'OpenQueueIfDue'; data: { now: string } }
  | { type: 'DrawPrequeue'; data: { round: number; order: readonly string[]; now: string } };

export interface ChangeQueueSettings {
  readonly changes: Partial<QueueSettings>;
  /** The environment's first values, recorded first if the stream has none yet. */
  readonly first: QueueSettings;
  readonly now: string;
}

export function decideQueue(command: QueueCommand, state: QueueState): Decision<QueueEvent> {
  switch (command.type) {
    case 'ConfigureQueue':
      return state.settings ? [] : [configured(command.data.first, command.data.now)];
    case 'ChangeQueueSettings':
      return decideChangeSettings(command.data, state);
    case 'OpenQueueIfDue': {
      const opensAt = state.settings?.opensAt;
      if (!opensAt || isFuture(opensAt, command.data.now)) return [];
      return [opened(state, command.data.now)];
    }
    case 'DrawPrequeue': {
      const { round, order, now } = command.data;
      if (state.pendingDraw !== round) return [];
      return [{ type: 'PrequeueDrawn', data: { round, order: [...order], drawnAt: now } }];
    }
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

const isFuture = (time: string, now: string) => Date.parse(time) > Date.parse(now);

function configured(first: QueueSettings, now: string): QueueEvent & { type: 'QueueConfigured' } {
  // A first opening already past is no pre-queue at all.
  const opensAt = first.opensAt && isFuture(first.opensAt, now) ? first.opensAt : null;
  return { type: 'QueueConfigured', data: { ...first, opensAt, configuredAt: now } };
}

const opened = (state: QueueState, now: string): QueueEvent => ({
  type: 'QueueOpened',
  data: { round: state.openings + 1, openedAt: now },
});

function decideChangeSettings(
  command: ChangeQueueSettings,
  state: QueueState,
): Decision<QueueEvent> {
  const { changes, now } = command;
  if (Object.keys(changes).length === 0)
    return refuse('VALIDATION_FAILED', 'name at least one setting to change');
  if (changes.opensAt && !isFuture(changes.opensAt, now))
    return refuse('VALIDATION_FAILED', 'opensAt must be in the future (or null)', {
      errors: [{ field: 'body.opensAt', message: 'must be a future time or null' }],
    });
  const events: QueueEvent[] = [];
  let before = state.settings;
  if (!before) {
    const first = configured(command.first, now);
    events.push(first);
    before = first.data;
  }
  events.push({ type: 'QueueSettingsChanged', data: { changes, changedAt: now } });
  // Clearing the opening of a running pre-queue opens it now.
  if (changes.opensAt === null && before.opensAt !== null) events.push(opened(state, now));
  return events;
}

/**
 * How many waiting tokens an admission round may admit under these settings: none while
 * a pre-queue runs or while paused; every one in passthrough; otherwise the free slots,
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
