import { scheduleConcert } from '../../src/commands/schedule-concert.js';
import { foldEvents } from '../../src/events/event.js';
import { seatStream } from '../../src/events/seat.js';
import { walletKind, walletStream } from '../../src/events/wallet.js';
import type { EventStore } from '../../src/events/store/port.js';
import type { Clock } from '../../src/commands/clock.js';

/** A concert whose reservations are open at the test clock's time. */
export async function scheduleTestConcert(
  deps: { store: EventStore; clock: Clock },
  seats = 10,
  prices: readonly number[] = [50_000],
) {
  const now = deps.clock().getTime();
  const { concert, written } = await scheduleConcert(deps, {
    title: 'Test concert',
    dates: [
      {
        concertTime: new Date(now + 30 * 86_400_000).toISOString(),
        reservationStartTime: new Date(now - 3_600_000).toISOString(),
        seats: Array.from({ length: seats }, (_, i) => ({
          seatNumber: i + 1,
          price: prices[i % prices.length]!,
        })),
      },
    ],
  });
  const date = concert.dates[0]!;
  return { concert, date, seats: date.seats, written };
}

/**
 * The money and seat invariants of docs/payment.md, checked on the event streams
 * themselves (the source of truth).
 */
export async function expectInvariants(
  store: EventStore,
  userIds: readonly string[],
  seatIds: readonly string[],
) {
  const paidSeatPayments = new Set<string>();
  for (const seatId of seatIds) {
    const events = await store.readStream(seatStream(seatId));
    const paid = events.filter((event) => event.type === 'SeatPaid');
    expect(paid.length).toBeLessThanOrEqual(1);
    paid.forEach((event) => paidSeatPayments.add((event.data as { paymentId: string }).paymentId));
  }
  for (const userId of userIds) {
    const events = await store.readStream(walletStream(userId));
    const wallet = foldEvents(walletKind, events);
    expect(wallet.balance).toBeGreaterThanOrEqual(0);
    const charged = Object.values(wallet.charges).reduce((sum, charge) => sum + charge.amount, 0);
    const debited = Object.values(wallet.debits).reduce((sum, amount) => sum + amount, 0);
    const refunded = Object.values(wallet.refunds).reduce((sum, amount) => sum + amount, 0);
    expect(wallet.balance).toBe(charged - debited + refunded);
    // Every debit is matched by a paid seat or by a refund, never both.
    for (const paymentId of Object.keys(wallet.debits)) {
      const refundedThis = wallet.refunds[paymentId] !== undefined;
      expect(paidSeatPayments.has(paymentId) !== refundedThis).toBe(true);
    }
  }
  return { paidSeatPayments };
}
