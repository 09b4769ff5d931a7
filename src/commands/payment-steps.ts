import { deterministicId, foldEvents } from '../events/event.js';
import {
  decidePayment,
  paymentKind,
  paymentStream,
  type PaymentOutcome,
  type PaymentState,
  type PaymentStep,
} from '../deciders/payment.js';
import { decideSeat, seatKind, seatStream } from '../deciders/seat.js';
import { decideToken, tokenKind, tokenStream } from '../deciders/token.js';
import { decideWallet, walletKind, walletStream, type WalletState } from '../deciders/wallet.js';
import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import type { ErrorCode } from './errors.js';
import { handleCommand, tryCommand, type Handled } from './handle-command.js';
import { commandRetries } from '../policies.js';

/**
 * The payment process's steps, each an append on one stream with an expected revision
 * and (where a retry could repeat it) a deterministic event id, shared by `pay` (pay.ts)
 * and recovery (payment-recovery.ts), so that redoing a step after a crash never does it
 * twice. The decisions are the streams' deciders; docs/payment.md has the flow.
 */
export interface PaymentDeps {
  readonly store: EventStore;
  readonly clock: Clock;
  /** Test hook: throwing here simulates a crash right after the named step. */
  readonly afterStep?: (
    step: 'started' | 'seatLocked' | 'debited' | 'seatPaid' | 'tokenExpired',
  ) => void | Promise<void>;
}

/** A payment under way: its step on every stream, and the seat and token it is for. */
export interface PaymentInProgress extends PaymentStep {
  readonly seatId: string;
  readonly tokenId: string;
}

const stepId = (paymentId: string, step: string) =>
  deterministicId('payment-step', paymentId, step);

export async function readPayment(store: EventStore, paymentId: string): Promise<PaymentState> {
  return foldEvents(paymentKind, await store.readStream(paymentStream(paymentId)));
}

/** The seat becomes `paying`: its hold can no longer expire or be paid by another. */
export const lockSeat = (store: EventStore, payment: PaymentInProgress) =>
  handleCommand(
    store,
    seatStream(payment.seatId),
    seatKind,
    (state) => decideSeat({ type: 'StartSeatPayment', data: payment }, state),
    { retries: commandRetries.startSeatPayment },
  );

export const debitWallet = (store: EventStore, payment: PaymentInProgress, amount: number) =>
  handleCommand(
    store,
    walletStream(payment.userId),
    walletKind,
    (state) => decideWallet({ type: 'Debit', data: { ...payment, amount } }, state),
    { retries: commandRetries.debit, eventIds: () => stepId(payment.paymentId, 'debit') },
  );

/** Gives the hold back to its user (a no-op if the seat is not paying for this payment). */
export const cancelSeatPayment = (
  store: EventStore,
  payment: PaymentInProgress,
  reason: ErrorCode,
) =>
  handleCommand(
    store,
    seatStream(payment.seatId),
    seatKind,
    (state) => decideSeat({ type: 'CancelSeatPayment', data: { ...payment, reason } }, state),
    { retries: commandRetries.seatPaymentOutcome },
  );

/**
 * The seat becomes paid. A decided refusal (the seat was taken from this payment, which
 * only recovery does) comes back as a value; a conflict that outlasted the retries or a
 * dropped connection throws and decides nothing.
 */
export const markSeatPaid = (store: EventStore, payment: PaymentInProgress) =>
  tryCommand(
    store,
    seatStream(payment.seatId),
    seatKind,
    (state) => decideSeat({ type: 'CompleteSeatPayment', data: payment }, state),
    {
      retries: commandRetries.seatPaymentOutcome,
      eventIds: () => stepId(payment.paymentId, 'seat-paid'),
    },
  );

/** A paid booking ends the token that paid, freeing its place in the queue. */
export const expireTokenAfterPayment = (store: EventStore, payment: PaymentInProgress) =>
  handleCommand(
    store,
    tokenStream(payment.userId),
    tokenKind,
    (state) =>
      decideToken(
        { type: 'ExpireTokenAfterPayment', data: { tokenId: payment.tokenId, now: payment.now } },
        state,
      ),
    {
      retries: commandRetries.expireTokenAfterPayment,
      eventIds: () => stepId(payment.paymentId, 'token-expired'),
    },
  );

/** Gives this payment's debit back (a no-op if there was none or it is already back). */
export function refund(store: EventStore, step: PaymentStep): Promise<Handled<WalletState>> {
  return handleCommand(
    store,
    walletStream(step.userId),
    walletKind,
    (state) => decideWallet({ type: 'Refund', data: step }, state),
    { retries: commandRetries.refund, eventIds: () => stepId(step.paymentId, 'refund') },
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
    (state) => decidePayment({ type: 'FinishPayment', data: { paymentId, now, outcome } }, state),
    { retries: commandRetries.finishPayment },
  );
}

/** The outcome a payment stream records, or undefined while it is pending. */
export function recordedOutcome(state: PaymentState): PaymentOutcome | undefined {
  if (state.status === 'paid') return { status: 'paid', balance: state.balance };
  if (state.status === 'failed')
    return { status: 'failed', code: state.code, refunded: state.refunded };
  return undefined;
}

/**
 * Ends a payment that will not complete: gives the seat back if it is locked for it,
 * refunds if it was debited, and records the failure with its code.
 */
export async function rollBackPayment(
  store: EventStore,
  payment: PaymentInProgress,
  failure: { code: ErrorCode; seatLocked: boolean; debited: boolean },
): Promise<{ outcome: PaymentOutcome; steps: Handled<unknown>[] }> {
  const steps: Handled<unknown>[] = [];
  if (failure.seatLocked) steps.push(await cancelSeatPayment(store, payment, failure.code));
  if (failure.debited) steps.push(await refund(store, payment));
  const outcome: PaymentOutcome = {
    status: 'failed',
    code: failure.code,
    refunded: failure.debited,
  };
  const finished = await finishPayment(store, payment.paymentId, payment.now, outcome);
  steps.push(finished);
  return { outcome: recordedOutcome(finished.state) ?? outcome, steps };
}

export type Completion =
  | { status: 'completed'; steps: Handled<unknown>[] }
  | { status: 'aborted'; outcome: PaymentOutcome; steps: Handled<unknown>[] };

/**
 * After the debit: mark the seat paid and expire the token. If the seat was taken from
 * this payment meanwhile (a decided outcome), refund and record PAYMENT_ABORTED instead:
 * money never stays taken without its seat. Anything else throws and leaves the payment
 * pending for recovery to finish. Recording the completion is the caller's last step.
 */
export async function completeAfterDebit(
  deps: PaymentDeps,
  payment: PaymentInProgress,
): Promise<Completion> {
  const seatPaid = await markSeatPaid(deps.store, payment);
  if ('refusal' in seatPaid) {
    const { outcome, steps } = await rollBackPayment(deps.store, payment, {
      code: 'PAYMENT_ABORTED',
      seatLocked: false,
      debited: true,
    });
    return { status: 'aborted', outcome, steps };
  }
  await deps.afterStep?.('seatPaid');
  const tokenExpired = await expireTokenAfterPayment(deps.store, payment);
  await deps.afterStep?.('tokenExpired');
  return { status: 'completed', steps: [seatPaid, tokenExpired] };
}
