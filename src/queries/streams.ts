import { concertKind } from '../events/catalog.js';
import { foldEvents, type StreamKind } from '../events/event.js';
import { paymentKind } from '../events/payment.js';
import { queueKind, queueStream } from '../events/queue.js';
import { seatKind } from '../events/seat.js';
import { tokenKind } from '../events/token.js';
import { walletKind } from '../events/wallet.js';
import {
  comparePositions,
  formatPosition,
  parsePosition,
  type EventStore,
  type RecordedEvent,
} from '../events/store/port.js';

const kinds: readonly [string, StreamKind<unknown, never>][] = [
  ['seat-', seatKind as StreamKind<unknown, never>],
  ['wallet-', walletKind as StreamKind<unknown, never>],
  ['token-', tokenKind as StreamKind<unknown, never>],
  ['payment-', paymentKind as StreamKind<unknown, never>],
  ['concert-', concertKind as StreamKind<unknown, never>],
  [queueStream, queueKind as StreamKind<unknown, never>],
];

export const kindOfStream = (streamName: string) =>
  kinds.find(([prefix]) => streamName.startsWith(prefix))?.[1];

export interface HistoryEntry {
  readonly position: string;
  readonly revision: number;
  readonly type: string;
  readonly data: unknown;
  readonly metadata: Record<string, unknown>;
  readonly createdAt: string;
}

export const toHistoryEntry = (event: RecordedEvent): HistoryEntry => ({
  position: formatPosition(event.position),
  revision: Number(event.revision),
  type: event.type,
  data: event.data,
  metadata: { ...event.metadata },
  createdAt: event.createdAt.toISOString(),
});

export async function streamHistory(
  store: EventStore,
  streamName: string,
): Promise<HistoryEntry[]> {
  return (await store.readStream(streamName)).map(toHistoryEntry);
}

/** `at` is an ISO time or a log position "commit/prepare"; undefined means now. */
export function parseMoment(
  at: string | undefined,
): { time: number } | { position: NonNullable<ReturnType<typeof parsePosition>> } | undefined {
  if (at === undefined) return undefined;
  const position = parsePosition(at);
  if (position) return { position };
  // ISO dates and times only, each part in range: Date.parse alone accepts "1" or rolls
  // 2026-02-31 over to March.
  const match =
    /^(\d{4})-(\d{2})-(\d{2})(T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})?)?$/.exec(at);
  if (!match) return undefined;
  const [year, month, day] = [Number(match[1]), Number(match[2]), Number(match[3])];
  const calendar = new Date(Date.UTC(year, month - 1, day));
  if (calendar.getUTCMonth() !== month - 1 || calendar.getUTCDate() !== day) return undefined;
  const time = Date.parse(at);
  return Number.isNaN(time) ? undefined : { time };
}

/**
 * A stream's state as of a moment, folded with the same evolve the commands use.
 * Returns undefined for a stream kind this service does not know.
 */
export async function streamStateAt(store: EventStore, streamName: string, at: string | undefined) {
  const kind = kindOfStream(streamName);
  if (!kind) return undefined;
  const moment = parseMoment(at);
  const events = (await store.readStream(streamName)).filter((event) => {
    if (!moment) return true;
    if ('time' in moment) return event.createdAt.getTime() <= moment.time;
    return comparePositions(event.position, moment.position) <= 0;
  });
  const last = events[events.length - 1];
  return {
    streamName,
    at: at ?? new Date().toISOString(),
    revision: last ? Number(last.revision) : -1,
    position: last ? formatPosition(last.position) : null,
    state: foldEvents(kind, events),
  };
}
