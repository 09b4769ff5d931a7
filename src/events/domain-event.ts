import { z } from 'zod';
import { concertEventSchema } from './catalog.js';
import { paymentEventSchema } from './payment.js';
import { queueEventSchema } from './queue.js';
import { seatEventSchema } from './seat.js';
import type { RecordedEvent } from './store/port.js';
import { tokenEventSchema } from './token.js';
import { walletEventSchema } from './wallet.js';

/**
 * Every event type the system writes, across stream kinds: what a reader of the whole
 * log (projections, caches, recovery) parses against. Each stream kind's own union stays
 * in its file; this only joins them.
 */
export const domainEventSchema = z.discriminatedUnion('type', [
  concertEventSchema,
  seatEventSchema,
  walletEventSchema,
  tokenEventSchema,
  paymentEventSchema,
  queueEventSchema,
]);
export type DomainEvent = z.infer<typeof domainEventSchema>;
export type DomainEventType = DomainEvent['type'];

type ParsedByType = {
  [E in DomainEvent as E['type']]: Omit<RecordedEvent, 'type' | 'data'> & E;
};
/**
 * A recorded event of one of the types `T` whose type and data have been validated:
 * narrowing on `type` types `data`. (An indexed access, so a projection of fewer types
 * is assignable where more are expected.)
 */
export type ParsedEvent<T extends DomainEventType = DomainEventType> = ParsedByType[T];

/** Validates a recorded event against its type's schema; an unknown type or bad data throws. */
export function parseRecorded(recorded: RecordedEvent): ParsedEvent {
  return { ...recorded, ...domainEventSchema.parse({ type: recorded.type, data: recorded.data }) };
}
