import { decideSeat } from '../../src/deciders/seat.js';
import { decideWallet } from '../../src/deciders/wallet.js';
import fc from 'fast-check';
import { isRefusal, type Decision } from '../../src/commands/decision.js';
import type { Event, StreamKind } from '../../src/events/event.js';
import { seatKind, type SeatEvent, type SeatState } from '../../src/events/seat.js';
import { walletKind, type WalletEvent, type WalletState } from '../../src/events/wallet.js';

/**
 * Random interleavings of holds, charges, payment steps, expiries and time, run on the
 * pure deciders with in-memory streams. After every step: no negative balance, no seat
 * paid twice; at the end, with every open payment settled, every debit is matched by a
 * paid seat or a refund.
 */
const users = ['u0', 'u1', 'u2'];
const seatIds = ['s0', 's1'];
const price = 300;
const start = Date.parse('2030-01-02T00:00:00.000Z');

type Step =
  | { kind: 'hold'; user: number; seat: number }
  | { kind: 'charge'; user: number; amount: number }
  | { kind: 'startPayment'; user: number; seat: number; byHolder: boolean }
  | { kind: 'debit'; payment: number }
  | { kind: 'complete'; payment: number }
  | { kind: 'expire'; seat: number }
  | { kind: 'tick'; seconds: number };

const step: fc.Arbitrary<Step> = fc.oneof(
  fc.record({ kind: fc.constant('hold' as const), user: fc.nat(2), seat: fc.nat(1) }),
  fc.record({
    kind: fc.constant('charge' as const),
    user: fc.nat(2),
    amount: fc.integer({ min: 1, max: 500 }),
  }),
  fc.record({
    kind: fc.constant('startPayment' as const),
    user: fc.nat(2),
    seat: fc.nat(1),
    byHolder: fc.boolean(),
  }),
  fc.record({ kind: fc.constant('debit' as const), payment: fc.nat(5) }),
  fc.record({ kind: fc.constant('complete' as const), payment: fc.nat(5) }),
  fc.record({ kind: fc.constant('expire' as const), seat: fc.nat(1) }),
  fc.record({ kind: fc.constant('tick' as const), seconds: fc.integer({ min: 1, max: 120 }) }),
);

class Streams<State, E extends Event> {
  private readonly events = new Map<string, E[]>();
  constructor(private readonly kind: StreamKind<State, E>) {}
  state(id: string): State {
    return (this.events.get(id) ?? []).reduce(
      (state, event) => this.kind.evolve(state, event),
      this.kind.initialState(),
    );
  }
  /** Runs a decision; a business refusal changes nothing, as in the real command loop. */
  run(id: string, decide: (state: State) => Decision<E>): boolean {
    const decided = decide(this.state(id));
    if (isRefusal(decided)) return false;
    this.events.set(id, [...(this.events.get(id) ?? []), ...decided]);
    return true;
  }
  all(id: string): readonly E[] {
    return this.events.get(id) ?? [];
  }
}

it('keeps the money and seat invariants under any interleaving', () => {
  fc.assert(
    fc.property(fc.array(step, { maxLength: 60 }), (steps) => {
      const seats = new Streams<SeatState, SeatEvent>(seatKind);
      const wallets = new Streams<WalletState, WalletEvent>(walletKind);
      for (const seatId of seatIds) {
        seats.run(seatId, () => [
          {
            type: 'SeatCreated',
            data: {
              seatId,
              concertId: 'c',
              concertTimeId: 't',
              seatNumber: 1,
              price,
              concertTime: '2031-01-01T00:00:00.000Z',
              reservationStartTime: '2030-01-01T00:00:00.000Z',
            },
          },
        ]);
      }
      let clock = start;
      let counter = 0;
      const now = () => new Date(clock).toISOString();
      const payments: {
        paymentId: string;
        reservationId: string;
        userId: string;
        seatId: string;
        state: 'locked' | 'debited' | 'done';
      }[] = [];

      const checkNow = () => {
        for (const userId of users) expect(wallets.state(userId).balance).toBeGreaterThanOrEqual(0);
        for (const seatId of seatIds)
          expect(
            seats.all(seatId).filter((event) => event.type === 'SeatPaid').length,
          ).toBeLessThanOrEqual(1);
      };

      for (const s of steps) {
        switch (s.kind) {
          case 'hold':
            seats.run(seatIds[s.seat]!, (state) =>
              decideSeat(
                {
                  type: 'HoldSeat',
                  data: {
                    concertTimeId: 't',
                    reservationId: `r${counter++}`,
                    userId: users[s.user]!,
                    now: now(),
                    holdTtlSeconds: 300,
                  },
                },
                state,
              ),
            );
            break;
          case 'charge':
            wallets.run(users[s.user]!, (state) =>
              decideWallet(
                {
                  type: 'Charge',
                  data: {
                    userId: users[s.user]!,
                    chargeId: `c${counter++}`,
                    amount: s.amount,
                    maxAmount: 1000,
                    now: now(),
                  },
                },
                state,
              ),
            );
            break;
          case 'startPayment': {
            const seatId = seatIds[s.seat]!;
            const seat = seats.state(seatId);
            const reservationId = seat.status === 'holding' ? seat.hold.reservationId : 'none';
            // Mostly the holder pays; sometimes someone else tries.
            const userId =
              s.byHolder && seat.status === 'holding' ? seat.hold.userId : users[s.user]!;
            const payment = {
              paymentId: `p${counter++}`,
              reservationId,
              userId,
              seatId,
              state: 'locked' as 'locked' | 'debited' | 'done',
            };
            if (
              seats.run(seatId, (state) =>
                decideSeat({ type: 'StartSeatPayment', data: { ...payment, now: now() } }, state),
              )
            )
              payments.push(payment);
            break;
          }
          case 'debit': {
            const payment = payments[s.payment % Math.max(payments.length, 1)];
            if (payment?.state !== 'locked') break;
            const ok = wallets.run(payment.userId, (state) =>
              decideWallet(
                { type: 'Debit', data: { ...payment, now: now(), amount: price } },
                state,
              ),
            );
            if (ok) payment.state = 'debited';
            else {
              seats.run(payment.seatId, (state) =>
                decideSeat(
                  {
                    type: 'CancelSeatPayment',
                    data: { ...payment, now: now(), reason: 'INSUFFICIENT_BALANCE' },
                  },
                  state,
                ),
              );
              payment.state = 'done';
            }
            break;
          }
          case 'complete': {
            const payment = payments[s.payment % Math.max(payments.length, 1)];
            if (payment?.state !== 'debited') break;
            if (
              !seats.run(payment.seatId, (state) =>
                decideSeat(
                  { type: 'CompleteSeatPayment', data: { ...payment, now: now() } },
                  state,
                ),
              )
            ) {
              wallets.run(payment.userId, (state) =>
                decideWallet({ type: 'Refund', data: { ...payment, now: now() } }, state),
              );
            }
            payment.state = 'done';
            break;
          }
          case 'expire': {
            const seat = seats.state(seatIds[s.seat]!);
            if (seat.status === 'holding')
              seats.run(seatIds[s.seat]!, (state) =>
                decideSeat(
                  {
                    type: 'ExpireHold',
                    data: { reservationId: seat.hold.reservationId, now: now() },
                  },
                  state,
                ),
              );
            break;
          }
          case 'tick':
            clock += s.seconds * 1000;
            break;
        }
        checkNow();
      }

      // Settle what is still open, the way recovery does: forward after a debit, back before.
      for (const payment of payments) {
        if (payment.state === 'locked')
          seats.run(payment.seatId, (state) =>
            decideSeat(
              {
                type: 'CancelSeatPayment',
                data: { ...payment, now: now(), reason: 'PAYMENT_ABORTED' },
              },
              state,
            ),
          );
        if (
          payment.state === 'debited' &&
          !seats.run(payment.seatId, (state) =>
            decideSeat({ type: 'CompleteSeatPayment', data: { ...payment, now: now() } }, state),
          )
        ) {
          wallets.run(payment.userId, (state) =>
            decideWallet({ type: 'Refund', data: { ...payment, now: now() } }, state),
          );
        }
      }
      checkNow();
      const paidBy = new Set(
        seatIds.flatMap((seatId) =>
          seats
            .all(seatId)
            .filter((event) => event.type === 'SeatPaid')
            .map((event) => (event.data as { paymentId: string }).paymentId),
        ),
      );
      for (const userId of users) {
        const wallet = wallets.state(userId);
        for (const paymentId of Object.keys(wallet.debits)) {
          expect(paidBy.has(paymentId) !== (wallet.refunds[paymentId] !== undefined)).toBe(true);
        }
        const charged = Object.values(wallet.charges).reduce(
          (sum, charge) => sum + charge.amount,
          0,
        );
        const debited = Object.values(wallet.debits).reduce((sum, amount) => sum + amount, 0);
        const refunded = Object.values(wallet.refunds).reduce((sum, amount) => sum + amount, 0);
        expect(wallet.balance).toBe(charged - debited + refunded);
      }
    }),
    { numRuns: 300 },
  );
});
