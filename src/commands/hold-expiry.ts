import { decideSeat, seatKind, seatStream } from '../deciders/seat.js';
import type { EventStore } from '../events/store/port.js';
import type { Db } from '../projections/database.js';
import type { Clock } from './clock.js';
import { isDomainError } from './errors.js';
import { handleCommand } from './handle-command.js';

/**
 * One round of the hold expiry process. Candidates come from the seats read model; the
 * decision is made on the seat stream and appended with the revision read, so it races
 * cleanly with a payment: whichever appends first wins, the other sees a conflict.
 */
export async function expireHolds(
  deps: { store: EventStore; db: Db; clock: Clock },
  limit = 500,
): Promise<number> {
  const now = deps.clock();
  const candidates = await deps.db
    .selectFrom('seats')
    .select(['seat_id', 'reservation_id'])
    .where('status', '=', 'holding')
    .where('hold_expires_at', '<=', now)
    .orderBy('hold_expires_at')
    .limit(limit)
    .execute();
  let expired = 0;
  for (const candidate of candidates) {
    const command = { reservationId: candidate.reservation_id ?? '', now: now.toISOString() };
    try {
      const handled = await handleCommand(
        deps.store,
        seatStream(candidate.seat_id),
        seatKind,
        (state) => decideSeat({ type: 'ExpireHold', data: command }, state),
      );
      expired += handled.events.length;
    } catch (error) {
      if (!isDomainError(error, 'CONCURRENCY_CONFLICT')) throw error;
    }
  }
  return expired;
}
