import { decideHoldSeat } from '../../src/commands/hold-seat.js';
import { decideExpireHold } from '../../src/commands/hold-expiry.js';
import {
  decideCancelSeatPayment,
  decideCompleteSeatPayment,
  decideStartSeatPayment,
} from '../../src/commands/payment-decisions.js';
import { seatKind, type SeatEvent } from '../../src/events/seat.js';
import { deciderSpec } from '../support/decider.js';

const seat = deciderSpec(seatKind);
const created: SeatEvent = {
  type: 'SeatCreated',
  data: {
    seatId: 's1',
    concertId: 'c1',
    concertTimeId: 't1',
    seatNumber: 7,
    price: 50_000,
    concertTime: '2030-01-10T19:00:00.000Z',
    reservationStartTime: '2030-01-01T00:00:00.000Z',
  },
};
const held = (
  reservationId = 'r1',
  userId = 'alice',
  heldAt = '2030-01-02T00:00:00.000Z',
  holdExpiresAt = '2030-01-02T00:05:00.000Z',
): SeatEvent => ({
  type: 'SeatHeld',
  data: {
    seatId: 's1',
    concertTimeId: 't1',
    reservationId,
    userId,
    price: 50_000,
    heldAt,
    holdExpiresAt,
  },
});
const hold = (
  overrides: Partial<{
    now: string;
    userId: string;
    reservationId: string;
    concertTimeId: string;
  }> = {},
) => ({
  concertTimeId: 't1',
  reservationId: 'r1',
  userId: 'alice',
  now: '2030-01-02T00:00:00.000Z',
  holdTtlSeconds: 300,
  ...overrides,
});
const paymentStarted: SeatEvent = {
  type: 'SeatPaymentStarted',
  data: {
    seatId: 's1',
    reservationId: 'r1',
    paymentId: 'p1',
    userId: 'alice',
    amount: 50_000,
    startedAt: '2030-01-02T00:01:00.000Z',
  },
};
const step = {
  paymentId: 'p1',
  reservationId: 'r1',
  userId: 'alice',
  now: '2030-01-02T00:01:00.000Z',
};
const paid: SeatEvent = {
  type: 'SeatPaid',
  data: {
    seatId: 's1',
    concertTimeId: 't1',
    reservationId: 'r1',
    paymentId: 'p1',
    userId: 'alice',
    amount: 50_000,
    paidAt: step.now,
  },
};

describe('holding a seat', () => {
  it('holds an empty seat for the hold time', () => {
    seat
      .given([created])
      .when((state) => decideHoldSeat(hold(), state))
      .then([held()]);
  });

  it('refuses a second hold on a held seat', () => {
    seat
      .given([created, held()])
      .when((state) => decideHoldSeat(hold({ userId: 'bob', reservationId: 'r2' }), state))
      .thenFails('SEAT_NOT_AVAILABLE');
  });

  it('refuses a hold before the reservation window opens', () => {
    seat
      .given([created])
      .when((state) => decideHoldSeat(hold({ now: '2029-12-31T23:59:59.000Z' }), state))
      .thenFails('RESERVATION_NOT_OPEN');
  });

  it('refuses a hold once the performance has started', () => {
    seat
      .given([created])
      .when((state) => decideHoldSeat(hold({ now: '2030-01-10T19:00:00.000Z' }), state))
      .thenFails('SEAT_NOT_AVAILABLE');
  });

  it('does not know a seat of another concert time', () => {
    seat
      .given([created])
      .when((state) => decideHoldSeat(hold({ concertTimeId: 't2' }), state))
      .thenFails('NOT_FOUND');
    seat
      .given([])
      .when((state) => decideHoldSeat(hold(), state))
      .thenFails('NOT_FOUND');
  });

  it('releases a run-out hold and holds again in one step', () => {
    const later = '2030-01-02T00:06:00.000Z';
    seat
      .given([created, held()])
      .when((state) =>
        decideHoldSeat(hold({ now: later, userId: 'bob', reservationId: 'r2' }), state),
      )
      .then([
        {
          type: 'SeatHoldExpired',
          data: {
            seatId: 's1',
            concertTimeId: 't1',
            reservationId: 'r1',
            userId: 'alice',
            expiredAt: '2030-01-02T00:05:00.000Z',
          },
        },
        held('r2', 'bob', later, '2030-01-02T00:11:00.000Z'),
      ]);
  });

  it('refuses to hold a sold seat', () => {
    seat
      .given([created, held(), paymentStarted, paid])
      .when((state) => decideHoldSeat(hold({ now: '2030-01-03T00:00:00.000Z' }), state))
      .thenFails('SEAT_NOT_AVAILABLE');
  });
});

describe('hold expiry', () => {
  it('expires a hold past its time', () => {
    seat
      .given([created, held()])
      .when((state) =>
        decideExpireHold({ reservationId: 'r1', now: '2030-01-02T00:05:00.000Z' }, state),
      )
      .then([
        {
          type: 'SeatHoldExpired',
          data: {
            seatId: 's1',
            concertTimeId: 't1',
            reservationId: 'r1',
            userId: 'alice',
            expiredAt: '2030-01-02T00:05:00.000Z',
          },
        },
      ]);
  });

  it('leaves a hold that has time left', () => {
    seat
      .given([created, held()])
      .when((state) =>
        decideExpireHold({ reservationId: 'r1', now: '2030-01-02T00:04:59.000Z' }, state),
      )
      .then([]);
  });

  it('leaves a seat being paid for: payment wins', () => {
    seat
      .given([created, held(), paymentStarted])
      .when((state) =>
        decideExpireHold({ reservationId: 'r1', now: '2030-01-02T00:09:00.000Z' }, state),
      )
      .then([]);
  });
});

describe('paying for a seat (seat stream steps)', () => {
  it('locks a held seat for a payment', () => {
    seat
      .given([created, held()])
      .when((state) => decideStartSeatPayment(step, state))
      .then([paymentStarted]);
  });

  it('refuses a payment by someone who does not hold the seat', () => {
    seat
      .given([created, held()])
      .when((state) => decideStartSeatPayment({ ...step, userId: 'bob' }, state))
      .thenFails('SEAT_NOT_HELD_BY_USER');
  });

  it('refuses a payment after the hold ran out', () => {
    seat
      .given([created, held()])
      .when((state) => decideStartSeatPayment({ ...step, now: '2030-01-02T00:05:00.000Z' }, state))
      .thenFails('HOLD_EXPIRED');
  });

  it('refuses a payment for a reservation that was released', () => {
    const expired: SeatEvent = {
      type: 'SeatHoldExpired',
      data: {
        seatId: 's1',
        concertTimeId: 't1',
        reservationId: 'r1',
        userId: 'alice',
        expiredAt: '2030-01-02T00:05:00.000Z',
      },
    };
    seat
      .given([created, held(), expired, held('r2', 'bob')])
      .when((state) => decideStartSeatPayment(step, state))
      .thenFails('HOLD_EXPIRED');
  });

  it('refuses a second payment while one is in progress, and after it succeeded', () => {
    seat
      .given([created, held(), paymentStarted])
      .when((state) => decideStartSeatPayment({ ...step, paymentId: 'p2' }, state))
      .thenFails('PAYMENT_IN_PROGRESS');
    seat
      .given([created, held(), paymentStarted])
      .when((state) => decideCompleteSeatPayment(step, state))
      .then([
        {
          type: 'SeatPaid',
          data: {
            seatId: 's1',
            concertTimeId: 't1',
            reservationId: 'r1',
            paymentId: 'p1',
            userId: 'alice',
            amount: 50_000,
            paidAt: step.now,
          },
        },
      ]);
    seat
      .given([created, held(), paymentStarted, paid])
      .when((state) => decideStartSeatPayment({ ...step, paymentId: 'p2' }, state))
      .thenFails('ALREADY_PAID');
  });

  it('cannot complete a payment that no longer owns the seat', () => {
    const cancelled: SeatEvent = {
      type: 'SeatPaymentCancelled',
      data: {
        seatId: 's1',
        reservationId: 'r1',
        paymentId: 'p1',
        reason: 'INSUFFICIENT_BALANCE',
        cancelledAt: step.now,
      },
    };
    seat
      .given([created, held(), paymentStarted, cancelled])
      .when((state) => decideCompleteSeatPayment(step, state))
      .thenFails('PAYMENT_ABORTED');
  });

  it('gives the hold back when a payment is cancelled', () => {
    seat
      .given([created, held(), paymentStarted])
      .when((state) => decideCancelSeatPayment({ ...step, reason: 'INSUFFICIENT_BALANCE' }, state))
      .then([
        {
          type: 'SeatPaymentCancelled',
          data: {
            seatId: 's1',
            reservationId: 'r1',
            paymentId: 'p1',
            reason: 'INSUFFICIENT_BALANCE',
            cancelledAt: step.now,
          },
        },
      ]);
    seat
      .given([created, held()])
      .when((state) => decideCancelSeatPayment({ ...step, reason: 'x' }, state))
      .then([]);
  });
});
