import type { DomainEvent } from '../../src/events/domain-event.js';
import { at, type Given } from './projection-spec.js';

/** Seat-stream fixtures for projection specs: concert time `time-1`, price 1000. */
export const minute = (minutes: number) => new Date(Date.UTC(2030, 0, 2, 0, minutes)).toISOString();
export const concertTime = '2030-02-01T19:00:00.000Z';

/** The concert as written now: seats come first as SeatCreated, the date only counts them. */
export const scheduled = (totalSeats: number): Given =>
  at(0, {
    type: 'ConcertScheduled',
    data: {
      concertId: 'concert-1',
      title: 'Spec',
      scheduledAt: minute(0),
      dates: [
        { concertTimeId: 'time-1', concertTime, reservationStartTime: minute(0), totalSeats },
      ],
    },
  });

/** The concert as written before seats left ConcertScheduled: seats listed inline. */
export const scheduledWithSeats = (seatIds: readonly string[]): Given =>
  at(0, {
    type: 'ConcertScheduled',
    data: {
      concertId: 'concert-1',
      title: 'Spec',
      scheduledAt: minute(0),
      dates: [
        {
          concertTimeId: 'time-1',
          concertTime,
          reservationStartTime: minute(0),
          seats: seatIds.map((seatId, index) => ({ seatId, seatNumber: index + 1, price: 1000 })),
        },
      ],
    },
  });

export const created = (seatId: string, seatNumber: number): Given =>
  at(0, {
    type: 'SeatCreated',
    data: {
      seatId,
      concertId: 'concert-1',
      concertTimeId: 'time-1',
      seatNumber,
      price: 1000,
      concertTime,
      reservationStartTime: minute(0),
    },
  });

export const held = (revision: number, seatId: string, reservationId: string, at_: number): Given =>
  at(revision, {
    type: 'SeatHeld',
    data: {
      seatId,
      concertTimeId: 'time-1',
      reservationId,
      userId: `user-${reservationId}`,
      price: 1000,
      heldAt: minute(at_),
      holdExpiresAt: minute(at_ + 5),
    },
  });

export const holdExpired = (
  revision: number,
  seatId: string,
  reservationId: string,
  at_: number,
): Given =>
  at(revision, {
    type: 'SeatHoldExpired',
    data: {
      seatId,
      concertTimeId: 'time-1',
      reservationId,
      userId: `user-${reservationId}`,
      expiredAt: minute(at_),
    },
  });

const payment = (reservationId: string) => ({
  reservationId,
  paymentId: `payment-${reservationId}`,
});

export const paymentStarted = (
  revision: number,
  seatId: string,
  reservationId: string,
  at_: number,
): Given =>
  at(revision, {
    type: 'SeatPaymentStarted',
    data: {
      seatId,
      ...payment(reservationId),
      userId: `user-${reservationId}`,
      amount: 1000,
      startedAt: minute(at_),
    },
  });

export const paymentCancelled = (
  revision: number,
  seatId: string,
  reservationId: string,
  at_: number,
): Given =>
  at(revision, {
    type: 'SeatPaymentCancelled',
    data: {
      seatId,
      ...payment(reservationId),
      reason: 'INSUFFICIENT_BALANCE',
      cancelledAt: minute(at_),
    },
  });

export const paid = (revision: number, seatId: string, reservationId: string, at_: number): Given =>
  at(revision, {
    type: 'SeatPaid',
    data: {
      seatId,
      concertTimeId: 'time-1',
      ...payment(reservationId),
      userId: `user-${reservationId}`,
      amount: 1000,
      paidAt: minute(at_),
    },
  } satisfies DomainEvent);

/** Four seats through every seat event: paid, held, payment cancelled, hold expired. */
export const seatHistory: Given[][] = [
  [created('s1', 1), created('s2', 2), created('s3', 3), created('s4', 4)],
  [held(1, 's1', 'r1', 1), paymentStarted(2, 's1', 'r1', 2), held(1, 's2', 'r2', 1)],
  [paid(3, 's1', 'r1', 3), held(1, 's3', 'r3', 1), paymentStarted(2, 's3', 'r3', 2)],
  [paymentCancelled(3, 's3', 'r3', 3), held(1, 's4', 'r4', 1), holdExpired(2, 's4', 'r4', 6)],
];
