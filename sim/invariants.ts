import type { EventStore, RecordedEvent } from '../src/events/store/port.js';
import { checkQueueInvariants } from './queue-invariants.js';

/** What the workload saw acknowledged (a success returned to the caller). */
export interface Acknowledged {
  readonly charges: { userId: string; chargeId: string; amount: number }[];
  readonly payments: { userId: string; paymentId: string; seatId: string }[];
}

async function readEverything(store: EventStore): Promise<RecordedEvent[]> {
  const events: RecordedEvent[] = [];
  for (;;) {
    const last = events[events.length - 1];
    const batch = await store.readAll({
      ...(last ? { fromPosition: last.position } : {}),
      maxCount: 5000,
    });
    events.push(...batch);
    if (batch.length < 5000) return events;
  }
}

type Data = Record<string, unknown> & { paymentId?: string; userId?: string; amount?: number };

/**
 * Invariants (a)-(e) and (g) of issue 9, checked on the log itself: the events are folded here,
 * independently of the deciders and the projections. Returns one line per violation.
 */
export async function checkLogInvariants(
  store: EventStore,
  acknowledged: Acknowledged,
): Promise<string[]> {
  const violations: string[] = [];
  const events = await readEverything(store);
  const wallets = new Map<
    string,
    {
      charged: Map<string, number>;
      debits: Map<string, number>;
      refunds: Map<string, number>;
      last: number;
    }
  >();
  const seats = new Map<
    string,
    { status: string; paymentId?: string; holder?: string; paid: Data[] }
  >();
  const payments = new Map<string, { started: Data; outcomes: RecordedEvent[] }>();
  for (const event of events) {
    const data = event.data as Data;
    if (event.streamName.startsWith('wallet-')) {
      const user = event.streamName.slice('wallet-'.length);
      const wallet = wallets.get(user) ?? {
        charged: new Map(),
        debits: new Map(),
        refunds: new Map(),
        last: 0,
      };
      wallets.set(user, wallet);
      const amount = Number(data.amount);
      if (event.type === 'WalletCharged') {
        if (wallet.charged.has(String(data.chargeId)))
          violations.push(`(e) charge ${String(data.chargeId)} applied twice`);
        wallet.charged.set(String(data.chargeId), amount);
      }
      if (event.type === 'WalletDebited') wallet.debits.set(String(data.paymentId), amount);
      if (event.type === 'WalletRefunded') wallet.refunds.set(String(data.paymentId), amount);
      wallet.last = Number(data.balance);
    }
    if (event.streamName.startsWith('seat-')) {
      const seat = seats.get(event.streamName) ?? { status: 'empty', paid: [] };
      seats.set(event.streamName, seat);
      if (event.type === 'SeatHeld')
        Object.assign(seat, { status: 'holding', holder: data.userId });
      if (event.type === 'SeatHoldExpired') seat.status = 'empty';
      if (event.type === 'SeatPaymentStarted')
        Object.assign(seat, { status: 'paying', paymentId: data.paymentId });
      if (event.type === 'SeatPaymentCancelled') seat.status = 'holding';
      if (event.type === 'SeatPaid') {
        seat.status = 'paid';
        seat.paid.push(data);
      }
    }
    if (event.streamName.startsWith('payment-')) {
      if (event.type === 'PaymentStarted')
        payments.set(String(data.paymentId), { started: data, outcomes: [] });
      else payments.get(String(data.paymentId))?.outcomes.push(event);
    }
  }
  const sum = (map: Map<string, number>) => [...map.values()].reduce((a, b) => a + b, 0);
  const paidBy = new Map<string, Data>();
  for (const [stream, seat] of seats) {
    // (c) no seat left paying; (d) at most one paid reservation, paid by its holder.
    if (seat.status === 'paying')
      violations.push(`(c) ${stream} is left paying (${seat.paymentId})`);
    if (seat.paid.length > 1) violations.push(`(d) ${stream} was paid ${seat.paid.length} times`);
    for (const paid of seat.paid) {
      paidBy.set(String(paid.paymentId), paid);
      const payer = payments.get(String(paid.paymentId))?.started.userId;
      if (payer !== paid.userId)
        violations.push(
          `(d) ${stream} paid by ${String(paid.userId)}, payment of ${String(payer)}`,
        );
    }
  }
  for (const [user, wallet] of wallets) {
    // (a) balance = charges - debits + refunds, never negative.
    const expected = sum(wallet.charged) - sum(wallet.debits) + sum(wallet.refunds);
    if (wallet.last !== expected)
      violations.push(`(a) wallet-${user}: balance ${wallet.last}, events say ${expected}`);
    if (expected < 0) violations.push(`(a) wallet-${user}: negative balance ${expected}`);
    // (b) every debit is matched by exactly one of: that user's seat paid, or a refund.
    for (const paymentId of wallet.debits.keys()) {
      const paid = paidBy.get(paymentId)?.userId === user;
      const refunded = wallet.refunds.has(paymentId);
      if (paid === refunded)
        violations.push(
          `(b) wallet-${user}: debit of ${paymentId} is ${paid ? 'paid and refunded' : 'neither paid nor refunded'}`,
        );
    }
    for (const paymentId of wallet.refunds.keys())
      if (!wallet.debits.has(paymentId))
        violations.push(`(b) wallet-${user}: refund of ${paymentId} without a debit`);
  }
  for (const [paymentId, payment] of payments) {
    // (c) no payment left pending; one outcome each, and a claimed refund happened.
    if (payment.outcomes.length === 0) violations.push(`(c) payment ${paymentId} is left pending`);
    if (payment.outcomes.length > 1)
      violations.push(`(c) payment ${paymentId} has ${payment.outcomes.length} outcomes`);
    const outcome = payment.outcomes[0];
    const user = String(payment.started.userId);
    if (
      outcome?.type === 'PaymentFailed' &&
      (outcome.data as Data).refunded === true &&
      !wallets.get(user)?.refunds.has(paymentId)
    )
      violations.push(`(b) payment ${paymentId} claims a refund that is not in wallet-${user}`);
  }
  // (e) nothing acknowledged is lost; an idempotent retry applied once (ids are unique per stream).
  for (const ack of acknowledged.charges)
    if (wallets.get(ack.userId)?.charged.get(ack.chargeId) !== ack.amount)
      violations.push(`(e) acknowledged charge ${ack.chargeId} of ${ack.userId} is not in the log`);
  for (const ack of acknowledged.payments)
    if (paidBy.get(ack.paymentId)?.userId !== ack.userId)
      violations.push(`(e) acknowledged payment ${ack.paymentId} has no paid seat`);
  violations.push(...checkQueueInvariants(events));
  return violations;
}
