import { randomUUID } from 'node:crypto';
import { seatKind, seatStream, type SeatEvent, type SeatState } from '../events/seat.js';
import type { EventStore } from '../events/store/port.js';
import { addSeconds, isAtOrAfter, type Clock } from './clock.js';
import { DomainError } from './errors.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

export interface HoldSeat {
  readonly concertTimeId: string;
  readonly reservationId: string;
  readonly userId: string;
  readonly now: string;
  readonly holdTtlSeconds: number;
}

export function decideHoldSeat(command: HoldSeat, state: SeatState): SeatEvent[] {
  if (state.status === 'unknown' || state.seat.concertTimeId !== command.concertTimeId) {
    throw new DomainError('NOT_FOUND', 'no such seat for this concert time');
  }
  const { seat } = state;
  if (!isAtOrAfter(command.now, seat.reservationStartTime)) {
    throw new DomainError(
      'RESERVATION_NOT_OPEN',
      `reservations open at ${seat.reservationStartTime}`,
      {
        reservationStartTime: seat.reservationStartTime,
      },
    );
  }
  if (isAtOrAfter(command.now, seat.concertTime)) {
    throw new DomainError('SEAT_NOT_AVAILABLE', 'this performance has already started');
  }
  const events: SeatEvent[] = [];
  if (state.status === 'holding' && isAtOrAfter(command.now, state.hold.holdExpiresAt)) {
    // The previous hold ran out; the expiry process may not have released it yet.
    events.push({
      type: 'SeatHoldExpired',
      data: {
        seatId: seat.seatId,
        concertTimeId: seat.concertTimeId,
        reservationId: state.hold.reservationId,
        userId: state.hold.userId,
        expiredAt: state.hold.holdExpiresAt,
      },
    });
  } else if (state.status !== 'empty') {
    throw new DomainError('SEAT_NOT_AVAILABLE', 'this seat is already held or sold');
  }
  events.push({
    type: 'SeatHeld',
    data: {
      seatId: seat.seatId,
      concertTimeId: seat.concertTimeId,
      reservationId: command.reservationId,
      userId: command.userId,
      price: seat.price,
      heldAt: command.now,
      holdExpiresAt: addSeconds(command.now, command.holdTtlSeconds),
    },
  });
  return events;
}

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
    (state) => decideHoldSeat(command, state),
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
