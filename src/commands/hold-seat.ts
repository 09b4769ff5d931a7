import { randomUUID } from 'node:crypto';
import { decideSeat, seatKind, seatStream, type HoldSeat } from '../deciders/seat.js';
import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

export interface Reservation {
  readonly reservationId: string;
  readonly concertTimeId: string;
  readonly seatId: string;
  readonly price: number;
  readonly status: 'holding';
  readonly holdExpiresAt: string;
}

/**
 * Exclusivity comes from the seat stream's expected revision alone. A conflict means
 * someone else changed the seat first: deciding again on the fresh state refuses the hold.
 */
export async function holdSeat(
  deps: { store: EventStore; clock: Clock; holdTtlSeconds: number },
  input: { userId: string; concertTimeId: string; seatId: string },
): Promise<{ reservation: Reservation; written: Written }> {
  const command: HoldSeat = {
    concertTimeId: input.concertTimeId,
    reservationId: randomUUID(),
    userId: input.userId,
    now: deps.clock().toISOString(),
    holdTtlSeconds: deps.holdTtlSeconds,
  };
  const handled = await handleCommand(
    deps.store,
    seatStream(input.seatId),
    seatKind,
    (state) => decideSeat({ type: 'HoldSeat', data: command }, state),
    {
      retries: commandRetries.holdSeat,
    },
  );
  const state = handled.state;
  if (state.status !== 'holding') throw new Error('a successful hold leaves the seat holding');
  return {
    reservation: {
      reservationId: state.hold.reservationId,
      concertTimeId: state.seat.concertTimeId,
      seatId: state.seat.seatId,
      price: state.hold.price,
      status: 'holding',
      holdExpiresAt: state.hold.holdExpiresAt,
    },
    written: writtenBy(handled),
  };
}
