import { randomUUID } from 'node:crypto';
import { deterministicId, foldEvents } from '../events/event.js';
import {
  decidePayment,
  paymentKind,
  paymentStream,
  type PaymentState,
} from '../deciders/payment.js';
import { payableHold, seatKind, seatStream } from '../deciders/seat.js';
import { decideWallet, walletKind, walletStream } from '../deciders/wallet.js';
import type { EventStore } from '../events/store/port.js';
import { DomainError, isDomainError, type ErrorCode } from './errors.js';
import { isRefusal, refusalError } from './decision.js';
import { handleCommand, type Handled } from './handle-command.js';
import {
  completeAfterDebit,
  debitWallet,
  finishPayment,
  lockSeat,
  readPayment,
  rollBackPayment,
  type PaymentDeps,
  type PaymentInProgress,
} from './payment-steps.js';
import { writtenBy, type Written } from './written.js';

export type { PaymentOutcome } from '../deciders/payment.js';
export { readPayment, type PaymentDeps } from './payment-steps.js';

export interface PaymentReceipt {
  readonly paymentId: string;
  readonly reservationId: string;
  readonly amount: number;
  readonly balance: number;
  readonly status: 'paid';
}

function receiptOf(state: PaymentState, reservationId: string): PaymentReceipt {
  if (state.status === 'none') throw new Error('no payment to describe');
  if (state.payment.reservationId !== reservationId) {
    throw new DomainError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was used for a different payment',
    );
  }
  if (state.status === 'pending')
    throw new DomainError('PAYMENT_IN_PROGRESS', 'this payment is still in progress');
  if (state.status === 'failed')
    throw new DomainError(state.code, `this payment failed earlier (${state.code})`);
  const { paymentId, amount } = state.payment;
  return { paymentId, reservationId, amount, balance: state.balance, status: 'paid' };
}

export interface PayInput {
  readonly userId: string;
  readonly tokenId: string;
  readonly reservationId: string;
  readonly seatId: string;
  readonly idempotencyKey?: string | undefined;
}

/**
 * Pay for a held seat: lock the seat (seat stream), debit (wallet stream), mark the seat
 * paid, expire the token, and record the outcome (payment stream). Each step is a named
 * function of payment-steps.ts, shared with the recovery process, which can redo any
 * step after a crash without doing it twice.
 */
export async function pay(
  deps: PaymentDeps,
  input: PayInput,
): Promise<{ receipt: PaymentReceipt; written: Written }> {
  const paymentId = input.idempotencyKey
    ? deterministicId('payment', input.userId, input.idempotencyKey)
    : randomUUID();
  if (input.idempotencyKey) {
    const earlier = await readPayment(deps.store, paymentId);
    if (earlier.status !== 'none')
      return { receipt: receiptOf(earlier, input.reservationId), written: writtenBy() };
  }
  const payment: PaymentInProgress = {
    paymentId,
    reservationId: input.reservationId,
    userId: input.userId,
    seatId: input.seatId,
    tokenId: input.tokenId,
    now: deps.clock().toISOString(),
  };
  const amount = await checkPayable(deps.store, payment);
  const started = await startPayment(deps.store, payment, amount);
  if (started.events.length === 0)
    return { receipt: receiptOf(started.state, input.reservationId), written: writtenBy() };
  await deps.afterStep?.('started');

  const locked = await beforeDebit(deps.store, payment, false, () => lockSeat(deps.store, payment));
  await deps.afterStep?.('seatLocked');
  const debit = await beforeDebit(deps.store, payment, true, () =>
    debitWallet(deps.store, payment, amount),
  );
  await deps.afterStep?.('debited');

  const completion = await completeAfterDebit(deps, payment);
  if (completion.status === 'aborted')
    throw new DomainError(
      'PAYMENT_ABORTED',
      'the payment was interrupted; the amount was refunded',
    );
  const finished = await finishPayment(deps.store, paymentId, payment.now, {
    status: 'paid',
    balance: debit.state.balance,
  });
  return {
    receipt: receiptOf(finished.state, input.reservationId),
    written: writtenBy(started, locked, debit, ...completion.steps, finished),
  };
}

/** Checks first, so a refused payment writes nothing. Returns the price to debit. */
async function checkPayable(store: EventStore, payment: PaymentInProgress): Promise<number> {
  const seat = foldEvents(seatKind, await store.readStream(seatStream(payment.seatId)));
  const hold = payableHold(seat, payment.reservationId, payment.userId, payment.now);
  if ('refused' in hold) throw refusalError(hold);
  const wallet = foldEvents(walletKind, await store.readStream(walletStream(payment.userId)));
  const debitable = decideWallet(
    { type: 'Debit', data: { ...payment, amount: hold.price } },
    wallet,
  );
  if (isRefusal(debitable)) throw refusalError(debitable);
  return hold.price;
}

/** PaymentStarted at `no_stream`: a concurrent start of the same payment id loses. */
function startPayment(
  store: EventStore,
  payment: PaymentInProgress,
  amount: number,
): Promise<Handled<PaymentState>> {
  return handleCommand(store, paymentStream(payment.paymentId), paymentKind, (state) =>
    decidePayment({ type: 'StartPayment', data: { ...payment, amount } }, state),
  ).catch((error: unknown) => {
    if (isDomainError(error, 'CONCURRENCY_CONFLICT'))
      throw new DomainError('PAYMENT_IN_PROGRESS', 'this payment is already in progress');
    throw error;
  });
}

/**
 * A step before the debit: no money has moved yet, so a refusal or a conflict that
 * outlasted its retries ends the payment with its code (giving the seat back once it was
 * locked). An infrastructure error decides nothing: the payment stays pending.
 */
async function beforeDebit<State>(
  store: EventStore,
  payment: PaymentInProgress,
  seatLocked: boolean,
  step: () => Promise<Handled<State>>,
): Promise<Handled<State>> {
  try {
    return await step();
  } catch (error) {
    if (isDomainError(error)) {
      const code: ErrorCode = error.code;
      await rollBackPayment(store, payment, { code, seatLocked, debited: false });
    }
    throw error;
  }
}
