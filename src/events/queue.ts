import { z } from 'zod';
import { isoTime, type StreamKind } from './event.js';

/**
 * Stream `queue`: the waiting queue's settings and openings, so every change is audited
 * and replayed. The environment only gives the first values (QueueConfigured).
 * Whether a token joined before or after an opening is decided by log order: the tokens
 * projection reads these events interleaved with the token events.
 */
export const queueStream = 'queue';

export const queueModes = ['open', 'paused', 'passthrough'] as const;
export type QueueMode = (typeof queueModes)[number];

const settings = z.object({
  mode: z.enum(queueModes),
  maxActive: z.number().int().min(1),
  admissionsPerMinute: z.number().int().min(1).nullable(),
  /** Non-null: a pre-queue is running until this time. */
  opensAt: isoTime.nullable(),
});
export type QueueSettings = z.infer<typeof settings>;

const queueConfigured = z.object({
  type: z.literal('QueueConfigured'),
  data: settings.extend({ configuredAt: isoTime }),
});
const queueSettingsChanged = z.object({
  type: z.literal('QueueSettingsChanged'),
  data: z.object({ changes: settings.partial(), changedAt: isoTime }),
});
/** The pre-queue ends here in log order: tokens issued later are not in its draw. */
const queueOpened = z.object({
  type: z.literal('QueueOpened'),
  data: z.object({ round: z.number().int().min(1), openedAt: isoTime }),
});
/** The uniformly random order of the round's pre-queued tokens, first place first. */
const prequeueDrawn = z.object({
  type: z.literal('PrequeueDrawn'),
  data: z.object({
    round: z.number().int().min(1),
    order: z.array(z.string()),
    drawnAt: isoTime,
  }),
});

export const queueEventSchema = z.discriminatedUnion('type', [
  queueConfigured,
  queueSettingsChanged,
  queueOpened,
  prequeueDrawn,
]);
export type QueueEvent = z.infer<typeof queueEventSchema>;
export const queueEventTypes: readonly QueueEvent['type'][] = [
  'QueueConfigured',
  'QueueSettingsChanged',
  'QueueOpened',
  'PrequeueDrawn',
];

export interface QueueState {
  /** Undefined until QueueConfigured: the environment's first values then apply. */
  readonly settings: QueueSettings | undefined;
  /** Openings so far; a running pre-queue is round `openings + 1`. */
  readonly openings: number;
  /** The round that opened and still waits for its draw. */
  readonly pendingDraw: number | undefined;
}

export const queueKind: StreamKind<QueueState, QueueEvent> = {
  schema: queueEventSchema,
  initialState: () => ({ settings: undefined, openings: 0, pendingDraw: undefined }),
  evolve: (state, event) => {
    switch (event.type) {
      case 'QueueConfigured': {
        const { configuredAt: _at, ...first } = event.data;
        return { ...state, settings: first };
      }
      case 'QueueSettingsChanged':
        if (!state.settings) return state;
        return { ...state, settings: { ...state.settings, ...event.data.changes } };
      case 'QueueOpened':
        return {
          openings: event.data.round,
          pendingDraw: event.data.round,
          settings: state.settings && { ...state.settings, opensAt: null },
        };
      case 'PrequeueDrawn':
        return state.pendingDraw === event.data.round
          ? { ...state, pendingDraw: undefined }
          : state;
      default: {
        const _exhaustive: never = event;
        return _exhaustive;
      }
    }
  },
};
