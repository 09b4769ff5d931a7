import { addSeconds, isAtOrAfter } from '../commands/clock.js';
import { refuse, type Decision, type Refusal } from '../commands/decision.js';
import type { Hold, SeatEvent, SeatInfo, SeatState } from '../events/seat.js';

export { seatKind, seatStream, type SeatEvent, type SeatState } from '../events/seat.js';

/**
 * Every decision about one seat (stream `seat-{seatId}`; its events and evolve are in
 * events/seat.ts). Pure: time and ids arrive in the command.
 */
export type SeatCommand =
  | { type: 'CreateSeat'; data: SeatInfo }
  | { type: 'HoldSeat'; data: HoldSeat }
  | { type: 'ExpireHold'; data: { reservationId: string; now: string } }
  | { type: 'StartSeatPayment'; data: PaymentStep }
  | { type: 'CompleteSeatPayment'; data: PaymentStep }
  | { type: 'CancelSeatPayment'; data: PaymentStep & { reason: string } };

export interface HoldSeat {
  readonly concertTimeId: string;
  readonly reservationId: string;
  readonly userId: string;
  readonly now: string;
  readonly holdTtlSeconds: number;
}

/** One step of a payment on the streams it touches (seat, wallet). */
export interface PaymentStep {
  readonly paymentId: string;
  readonly reservationId: string;
  readonly userId: string;
  readonly now: string;
}

export function decideSeat(command: SeatCommand, state: SeatState): Decision<SeatEvent> {
  switch (command.type) {
    case 'CreateSeat':
      return state.status === 'unknown' ? [{ type: 'SeatCreated', data: command.data }] : [];
    case 'HoldSeat':
      return decideHoldSeat(command.data, state);
    case 'ExpireHold':
      return decideExpireHold(command.data, state);
    case 'StartSeatPayment':
      return decideStartSeatPayment(command.data, state);
    case 'CompleteSeatPayment':
      return decideCompleteSeatPayment(command.data, state);
    case 'CancelSeatPayment':
      return decideCancelSeatPayment(command.data, state);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

function decideHoldSeat(command: HoldSeat, state: SeatState): Decision<SeatEvent> {
  if (state.status === 'unknown' || state.seat.concertTimeId !== command.concertTimeId)
    return refuse('NOT_FOUND', 'no such seat for this concert time');
  const { seat } = state;
  if (!isAtOrAfter(command.now, seat.reservationStartTime)) {
    return refuse('RESERVATION_NOT_OPEN', `reservations open at ${seat.reservationStartTime}`, {
      reservationStartTime: seat.reservationStartTime,
    });
  }
  if (isAtOrAfter(command.now, seat.concertTime))
    return refuse('SEAT_NOT_AVAILABLE', 'this performance has already started');
  const events: SeatEvent[] = [];
  if (state.status === 'holding' && isAtOrAfter(command.now, state.hold.holdExpiresAt)) {
    // The previous hold ran out; the expiry process may not have released it yet.
    events.push(holdExpired(state, state.hold));
  } else if (state.status !== 'empty') {
    return refuse('SEAT_NOT_AVAILABLE', 'this seat is already held or sold');
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

const holdExpired = (state: { seat: SeatInfo }, hold: Hold): SeatEvent => ({
  type: 'SeatHoldExpired',
  data: {
    seatId: state.seat.seatId,
    concertTimeId: state.seat.concertTimeId,
    reservationId: hold.reservationId,
    userId: hold.userId,
    expiredAt: hold.holdExpiresAt,
  },
});

/** Releases a hold that ran out. A seat being paid for is no longer `holding`: payment wins. */
function decideExpireHold(
  command: { reservationId: string; now: string },
  state: SeatState,
): SeatEvent[] {
  if (state.status !== 'holding' || state.hold.reservationId !== command.reservationId) return [];
  if (!isAtOrAfter(command.now, state.hold.holdExpiresAt)) return [];
  return [holdExpired(state, state.hold)];
}

/** The hold a payment may take, or the reason it may not. */
export function payableHold(
  state: SeatState,
  reservationId: string,
  userId: string,
  now: string,
): Hold | Refusal {
  if (state.status === 'unknown') return refuse('NOT_FOUND', 'no such reservation');
  const past = state.past[reservationId];
  const current = state.status === 'empty' ? undefined : state.hold;
  const owner = current?.reservationId === reservationId ? current.userId : past?.userId;
  if (owner === undefined) return refuse('NOT_FOUND', 'no such reservation');
  if (owner !== userId) return refuse('SEAT_NOT_HELD_BY_USER', 'this seat is held by someone else');
  if (past?.outcome === 'paid') return refuse('ALREADY_PAID', 'this reservation is already paid');
  if (past?.outcome === 'expired') return refuse('HOLD_EXPIRED', 'this hold has expired');
  if (state.status === 'paying')
    return refuse('PAYMENT_IN_PROGRESS', 'a payment for this reservation is in progress');
  if (state.status !== 'holding') return refuse('ALREADY_PAID', 'this reservation is already paid');
  if (isAtOrAfter(now, state.hold.holdExpiresAt))
    return refuse('HOLD_EXPIRED', 'this hold has expired');
  return state.hold;
}

/** Locks the seat for this payment: the hold can no longer expire or be paid by another. */
function decideStartSeatPayment(step: PaymentStep, state: SeatState): Decision<SeatEvent> {
  if ((state.status === 'paying' || state.status === 'paid') && state.paymentId === step.paymentId)
    return [];
  const hold = payableHold(state, step.reservationId, step.userId, step.now);
  if ('refused' in hold) return hold;
  if (state.status !== 'holding') throw new Error('payableHold admits only a holding seat');
  return [
    {
      type: 'SeatPaymentStarted',
      data: {
        seatId: state.seat.seatId,
        reservationId: hold.reservationId,
        paymentId: step.paymentId,
        userId: step.userId,
        amount: hold.price,
        startedAt: step.now,
      },
    },
  ];
}

/**
 * A seat taken from this payment meanwhile (only recovery does that) is a decided
 * outcome, not a conflict: the payment is aborted and its money goes back.
 */
function decideCompleteSeatPayment(step: PaymentStep, state: SeatState): Decision<SeatEvent> {
  if (state.status === 'paid' && state.paymentId === step.paymentId) return [];
  if (state.status !== 'paying' || state.paymentId !== step.paymentId)
    return refuse('PAYMENT_ABORTED', 'the seat is no longer reserved for this payment');
  return [
    {
      type: 'SeatPaid',
      data: {
        seatId: state.seat.seatId,
        concertTimeId: state.seat.concertTimeId,
        reservationId: state.hold.reservationId,
        paymentId: step.paymentId,
        userId: state.hold.userId,
        amount: state.hold.price,
        paidAt: step.now,
      },
    },
  ];
}

function decideCancelSeatPayment(
  step: PaymentStep & { reason: string },
  state: SeatState,
): SeatEvent[] {
  if (state.status !== 'paying' || state.paymentId !== step.paymentId) return [];
  return [
    {
      type: 'SeatPaymentCancelled',
      data: {
        seatId: state.seat.seatId,
        reservationId: state.hold.reservationId,
        paymentId: step.paymentId,
        reason: step.reason,
        cancelledAt: step.now,
      },
    },
  ];
}
