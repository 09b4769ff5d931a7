import type { DomainEvent } from '../../src/events/domain-event.js';
import type { EventStore } from '../../src/events/store/port.js';

/** One of every event type the projections read, appended straight to the store. */
type Entry = readonly [stream: string, event: DomainEvent];

const at = (minute: number) => new Date(Date.UTC(2030, 0, 2, 0, minute)).toISOString();

/**
 * A small log in which every event type occurs, in the orders the system writes them:
 * a pre-queue with its opening and draw (one pre-queued token left out of the draw, one
 * revoked while waiting), admissions and expiries, seats held, expired, held again, paid
 * and a payment cancelled, wallets charged, debited and refunded, payments completed and
 * failed, a concert with seats as streams and a legacy date listing its seats inline.
 * Ids are prefixed with `round`, so several rounds share one database; `opening` is
 * the queue's next opening round.
 */
export function variedLog(round: string, opening: number): Entry[] {
  const id = (name: string) => `${round}-${name}`;
  const [u1, u2, u3, u4] = ['u1', 'u2', 'u3', 'u4'].map(id) as [string, string, string, string];
  const [t1, t2, t3, t4] = ['t1', 't2', 't3', 't4'].map(id) as [string, string, string, string];
  const [s1, s2, s3] = ['s1', 's2', 's3'].map(id) as [string, string, string];
  const concertId = id('c');
  const timeA = id('time-a');
  const settings = { mode: 'open' as const, maxActive: 10, admissionsPerMinute: null };
  const seat = (seatId: string, seatNumber: number): Entry => [
    `seat-${seatId}`,
    {
      type: 'SeatCreated',
      data: {
        seatId,
        concertId,
        concertTimeId: timeA,
        seatNumber,
        price: 10_000 * seatNumber,
        concertTime: at(9000),
        reservationStartTime: at(0),
      },
    },
  ];
  const held = (seatId: string, reservationId: string, userId: string, minute: number): Entry => [
    `seat-${seatId}`,
    {
      type: 'SeatHeld',
      data: {
        seatId,
        concertTimeId: timeA,
        reservationId,
        userId,
        price: 10_000,
        heldAt: at(minute),
        holdExpiresAt: at(minute + 5),
      },
    },
  ];
  const r = (name: string) => id(`r-${name}`);
  const p = (name: string) => id(`p-${name}`);
  return [
    [
      'queue',
      { type: 'QueueConfigured', data: { ...settings, opensAt: at(30), configuredAt: at(1) } },
    ],
    [`token-${u1}`, { type: 'TokenIssued', data: { tokenId: t1, userId: u1, issuedAt: at(2) } }],
    [`token-${u2}`, { type: 'TokenIssued', data: { tokenId: t2, userId: u2, issuedAt: at(3) } }],
    [`token-${u3}`, { type: 'TokenIssued', data: { tokenId: t3, userId: u3, issuedAt: at(4) } }],
    [
      'queue',
      { type: 'QueueSettingsChanged', data: { changes: { maxActive: 20 }, changedAt: at(5) } },
    ],
    [
      `token-${u3}`,
      {
        type: 'TokenExpired',
        data: { tokenId: t3, userId: u3, reason: 'revoked', expiredAt: at(6) },
      },
    ],
    ['queue', { type: 'QueueOpened', data: { round: opening, openedAt: at(30) } }],
    ['queue', { type: 'PrequeueDrawn', data: { round: opening, order: [t2], drawnAt: at(31) } }],
    [`token-${u4}`, { type: 'TokenIssued', data: { tokenId: t4, userId: u4, issuedAt: at(32) } }],
    [
      `token-${u1}`,
      {
        type: 'TokenAdmitted',
        data: { tokenId: t1, userId: u1, admittedAt: at(33), expiresAt: at(43) },
      },
    ],
    [
      `token-${u2}`,
      {
        type: 'TokenAdmitted',
        data: { tokenId: t2, userId: u2, admittedAt: at(33), expiresAt: at(43) },
      },
    ],
    [
      `token-${u4}`,
      { type: 'TokenExpired', data: { tokenId: t4, userId: u4, reason: 'ttl', expiredAt: at(34) } },
    ],
    seat(s1, 1),
    seat(s2, 2),
    seat(s3, 3),
    [
      `concert-${concertId}`,
      {
        type: 'ConcertScheduled',
        data: {
          concertId,
          title: `Concert ${round}`,
          scheduledAt: at(0),
          dates: [
            {
              concertTimeId: timeA,
              concertTime: at(9000),
              reservationStartTime: at(0),
              totalSeats: 3,
            },
            {
              concertTimeId: id('time-legacy'),
              concertTime: at(9500),
              reservationStartTime: at(0),
              seats: [{ seatId: id('legacy-seat'), seatNumber: 1, price: 5000 }],
            },
          ],
        },
      },
    ],
    [
      `wallet-${u1}`,
      {
        type: 'WalletCharged',
        data: {
          userId: u1,
          chargeId: id('ch1'),
          amount: 50_000,
          balance: 50_000,
          chargedAt: at(35),
        },
      },
    ],
    [
      `wallet-${u2}`,
      {
        type: 'WalletCharged',
        data: {
          userId: u2,
          chargeId: id('ch2'),
          amount: 30_000,
          balance: 30_000,
          chargedAt: at(35),
        },
      },
    ],
    held(s1, r('1'), u1, 36),
    held(s2, r('2'), u2, 36),
    [
      `seat-${s2}`,
      {
        type: 'SeatHoldExpired',
        data: {
          seatId: s2,
          concertTimeId: timeA,
          reservationId: r('2'),
          userId: u2,
          expiredAt: at(41),
        },
      },
    ],
    held(s2, r('3'), u2, 42),
    [
      `payment-${p('1')}`,
      {
        type: 'PaymentStarted',
        data: {
          paymentId: p('1'),
          reservationId: r('1'),
          seatId: s1,
          userId: u1,
          tokenId: t1,
          amount: 10_000,
          startedAt: at(43),
        },
      },
    ],
    [
      `seat-${s1}`,
      {
        type: 'SeatPaymentStarted',
        data: {
          seatId: s1,
          reservationId: r('1'),
          paymentId: p('1'),
          userId: u1,
          amount: 10_000,
          startedAt: at(43),
        },
      },
    ],
    [
      `wallet-${u1}`,
      {
        type: 'WalletDebited',
        data: { userId: u1, paymentId: p('1'), amount: 10_000, balance: 40_000, debitedAt: at(43) },
      },
    ],
    [
      `seat-${s1}`,
      {
        type: 'SeatPaid',
        data: {
          seatId: s1,
          concertTimeId: timeA,
          reservationId: r('1'),
          paymentId: p('1'),
          userId: u1,
          amount: 10_000,
          paidAt: at(43),
        },
      },
    ],
    [
      `payment-${p('1')}`,
      {
        type: 'PaymentCompleted',
        data: { paymentId: p('1'), balance: 40_000, completedAt: at(43) },
      },
    ],
    [
      `token-${u1}`,
      {
        type: 'TokenExpired',
        data: { tokenId: t1, userId: u1, reason: 'payment', expiredAt: at(43) },
      },
    ],
    [
      `payment-${p('2')}`,
      {
        type: 'PaymentStarted',
        data: {
          paymentId: p('2'),
          reservationId: r('3'),
          seatId: s2,
          userId: u2,
          tokenId: t2,
          amount: 10_000,
          startedAt: at(44),
        },
      },
    ],
    [
      `seat-${s2}`,
      {
        type: 'SeatPaymentStarted',
        data: {
          seatId: s2,
          reservationId: r('3'),
          paymentId: p('2'),
          userId: u2,
          amount: 10_000,
          startedAt: at(44),
        },
      },
    ],
    [
      `wallet-${u2}`,
      {
        type: 'WalletDebited',
        data: { userId: u2, paymentId: p('2'), amount: 10_000, balance: 20_000, debitedAt: at(44) },
      },
    ],
    [
      `wallet-${u2}`,
      {
        type: 'WalletRefunded',
        data: {
          userId: u2,
          paymentId: p('2'),
          amount: 10_000,
          balance: 30_000,
          refundedAt: at(45),
        },
      },
    ],
    [
      `seat-${s2}`,
      {
        type: 'SeatPaymentCancelled',
        data: {
          seatId: s2,
          reservationId: r('3'),
          paymentId: p('2'),
          reason: 'TOKEN_EXPIRED',
          cancelledAt: at(45),
        },
      },
    ],
    [
      `payment-${p('2')}`,
      {
        type: 'PaymentFailed',
        data: { paymentId: p('2'), code: 'TOKEN_EXPIRED', refunded: true, failedAt: at(45) },
      },
    ],
  ];
}

/** Appends the entries one by one, in order (any expected revision: ids are fresh). */
export async function appendLog(store: EventStore, entries: readonly Entry[]): Promise<void> {
  for (const [stream, event] of entries) await store.appendToStream(stream, [event]);
}
