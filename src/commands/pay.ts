import { randomUUID } from 'node:crypto';
import { deterministicId, foldEvents } from '../events/event.js';
import { paymentKind, paymentStream, type PaymentState } from '../events/payment.js';
import { decideSeat, payableHold, seatKind, seatStream } from '../deciders/seat.js';
import { decideWallet, walletKind, walletStream, type WalletState } from '../deciders/wallet.js';
import { tokenKind, tokenStream } from '../events/token.js';
import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { DomainError, isDomainError, type ErrorCode } from './errors.js';
import { isRefusal, refusalError } from './decision.js';
import { handleCommand, tryCommand, type Handled } from './handle-command.js';
import {
  decideExpireTokenAfterPayment,
  decideFinishPayment,
  decideStartPayment,
  type PaymentOutcome,
  type PaymentStep,
} from './payment-decisions.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

export type { PaymentOutcome } from './payment-decisions.js';

export interface PaymentDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  /** Test hook: throwing here simulates a crash right after the named step. */
  readonly afterStep?: (
    step: 'started' | 'seatLocked' | 'debited' | 'seatPaid' | 'tokenExpired',
  ) => void | Promise<void>;
}

export interface PaymentReceipt {
  readonly paymentId: string;
  readonly reservationId: string;
  readonly amount: number;
  readonly balance: number;
  readonly status: 'paid';
}

const stepId = (paymentId: string, step: string) =>
  deterministicId('payment-step', paymentId, step);

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

export async function readPayment(store: EventStore, paymentId: string): Promise<PaymentState> {
  return foldEvents(paymentKind, await store.readStream(paymentStream(paymentId)));
}

/**
 * Pay for a held seat: lock the seat (seat stream), debit (wallet stream), mark the seat
 * paid, expire the token, and record the outcome (payment stream). Each step appends
 * with an expected revision and a deterministic event id, so the recovery process can
 * redo any step after a crash without doing it twice.
 */
export async function pay(
  deps: PaymentDeps,
  input: {
    userId: string;
    tokenId: string;
    reservationId: string;
    seatId: string;
    idempotencyKey?: string | undefined;
  },
): Promise<{ receipt: PaymentReceipt; written: Written }> {
  const paymentId = input.idempotencyKey
    ? deterministicId('payment', input.userId, input.idempotencyKey)
    : randomUUID();
  if (input.idempotencyKey) {
    const earlier = await readPayment(deps.store, paymentId);
    if (earlier.status !== 'none')
      return { receipt: receiptOf(earlier, input.reservationId), written: writtenBy() };
  }
  const now = deps.clock().toISOString();
  const step: PaymentStep = {
    paymentId,
    reservationId: input.reservationId,
    userId: input.userId,
    now,
  };

  // Checks first, so a refused payment writes nothing.
  const seat = foldEvents(seatKind, await deps.store.readStream(seatStream(input.seatId)));
  const hold = payableHold(seat, input.reservationId, input.userId, now);
  if ('refused' in hold) throw refusalError(hold);
  const wallet = foldEvents(walletKind, await deps.store.readStream(walletStream(input.userId)));
  const debitable = decideWallet({ type: 'Debit', data: { ...step, amount: hold.price } }, wallet);
  if (isRefusal(debitable)) throw refusalError(debitable);

  const started = await handleCommand(deps.store, paymentStream(paymentId), paymentKind, (state) =>
    decideStartPayment(
      { ...step, seatId: input.seatId, tokenId: input.tokenId, amount: hold.price },
      state,
    ),
  ).catch((error: unknown) => {
    if (isDomainError(error, 'CONCURRENCY_CONFLICT'))
      throw new DomainError('PAYMENT_IN_PROGRESS', 'this payment is already in progress');
    throw error;
  });
  if (started.events.length === 0)
    return { receipt: receiptOf(started.state, input.reservationId), written: writtenBy() };
  await deps.afterStep?.('started');

  const steps: Handled<unknown>[] = [started];
  const fail = async (code: ErrorCode, refunded: boolean) => {
    steps.push(
      await finishPayment(deps.store, paymentId, now, { status: 'failed', code, refunded }),
    );
  };

  try {
    steps.push(
      await handleCommand(
        deps.store,
        seatStream(input.seatId),
        seatKind,
        (state) => decideSeat({ type: 'StartSeatPayment', data: step }, state),
        { retries: commandRetries.startSeatPayment },
      ),
    );
  } catch (error) {
    if (isDomainError(error)) await fail(error.code, false);
    throw error;
  }
  await deps.afterStep?.('seatLocked');

  let debit: Handled<WalletState>;
  try {
    debit = await handleCommand(
      deps.store,
      walletStream(input.userId),
      walletKind,
      (state) => decideWallet({ type: 'Debit', data: { ...step, amount: hold.price } }, state),
      {
        retries: commandRetries.debit,
        eventIds: () => stepId(paymentId, 'debit'),
      },
    );
  } catch (error) {
    if (!isDomainError(error)) throw error;
    steps.push(
      await handleCommand(
        deps.store,
        seatStream(input.seatId),
        seatKind,
        (state) =>
          decideSeat({ type: 'CancelSeatPayment', data: { ...step, reason: error.code } }, state),
        { retries: commandRetries.seatPaymentOutcome },
      ),
    );
    await fail(error.code, false);
    throw error;
  }
  steps.push(debit);
  await deps.afterStep?.('debited');

  steps.push(
    ...(await completeAfterDebit(deps, { ...step, seatId: input.seatId, tokenId: input.tokenId })),
  );
  const finished = await finishPayment(deps.store, paymentId, now, {
    status: 'paid',
    balance: debit.state.balance,
  });
  steps.push(finished);
  return { receipt: receiptOf(finished.state, input.reservationId), written: writtenBy(...steps) };
}

/**
 * After the debit: mark the seat paid and expire the token. If the seat was taken from
 * this payment meanwhile (only recovery does that), refund instead: money never stays
 * taken without its seat.
 */
export async function completeAfterDebit(
  deps: PaymentDeps,
  step: PaymentStep & { seatId: string; tokenId: string },
): Promise<Handled<unknown>[]> {
  const steps: Handled<unknown>[] = [];
  // Only the decided "seat lost" (a refusal) ends the payment here; a conflict that
  // outlasted the retries or a dropped connection throws and leaves it pending for
  // recovery to finish.
  const seatPaid = await tryCommand(
    deps.store,
    seatStream(step.seatId),
    seatKind,
    (state) => decideSeat({ type: 'CompleteSeatPayment', data: step }, state),
    {
      retries: commandRetries.seatPaymentOutcome,
      eventIds: () => stepId(step.paymentId, 'seat-paid'),
    },
  );
  if (!('refusal' in seatPaid)) steps.push(seatPaid);
  else {
    steps.push(await refund(deps.store, step));
    steps.push(
      await finishPayment(deps.store, step.paymentId, step.now, {
        status: 'failed',
        code: 'PAYMENT_ABORTED',
        refunded: true,
      }),
    );
    throw new DomainError(
      'PAYMENT_ABORTED',
      'the payment was interrupted; the amount was refunded',
    );
  }
  await deps.afterStep?.('seatPaid');
  steps.push(
    await handleCommand(
      deps.store,
      tokenStream(step.userId),
      tokenKind,
      (state) => decideExpireTokenAfterPayment({ tokenId: step.tokenId, now: step.now }, state),
      {
        retries: commandRetries.expireTokenAfterPayment,
        eventIds: () => stepId(step.paymentId, 'token-expired'),
      },
    ),
  );
  await deps.afterStep?.('tokenExpired');
  return steps;
}

export function refund(store: EventStore, step: PaymentStep): Promise<Handled<WalletState>> {
  return handleCommand(
    store,
    walletStream(step.userId),
    walletKind,
    (state) => decideWallet({ type: 'Refund', data: step }, state),
    {
      retries: commandRetries.refund,
      eventIds: () => stepId(step.paymentId, 'refund'),
    },
  );
}

/** Only one outcome is ever recorded: the first terminal event wins, a later one is a no-op. */
export function finishPayment(
  store: EventStore,
  paymentId: string,
  now: string,
  outcome: PaymentOutcome,
): Promise<Handled<PaymentState>> {
  return handleCommand(
    store,
    paymentStream(paymentId),
    paymentKind,
    (state) => decideFinishPayment({ paymentId, now, outcome }, state),
    {
      retries: commandRetries.finishPayment,
    },
  );
}
