import { randomUUID } from 'node:crypto';
import { deterministicId, foldEvents } from '../events/event.js';
import {
  paymentKind,
  paymentStream,
  type PaymentEvent,
  type PaymentState,
} from '../events/payment.js';
import { seatKind, seatStream, type Hold, type SeatEvent, type SeatState } from '../events/seat.js';
import { tokenKind, tokenStream, type TokenEvent, type TokenState } from '../events/token.js';
import { walletKind, walletStream, type WalletEvent, type WalletState } from '../events/wallet.js';
import type { EventStore } from '../events/store/port.js';
import { isAtOrAfter, type Clock } from './clock.js';
import { DomainError, isDomainError, type ErrorCode } from './errors.js';
import { handleCommand, type Handled } from './handle-command.js';
import { writtenBy, type Written } from './written.js';

// ---- Pure decisions (docs/payment.md has the flow and its invariants) ----

/** The hold a payment may take, or the reason it may not. */
export function payableHold(
  state: SeatState,
  reservationId: string,
  userId: string,
  now: string,
): Hold {
  if (state.status === 'unknown') throw new DomainError('NOT_FOUND', 'no such reservation');
  const past = state.past[reservationId];
  const current = state.status === 'empty' ? undefined : state.hold;
  const owner = current?.reservationId === reservationId ? current.userId : past?.userId;
  if (owner === undefined) throw new DomainError('NOT_FOUND', 'no such reservation');
  if (owner !== userId)
    throw new DomainError('SEAT_NOT_HELD_BY_USER', 'this seat is held by someone else');
  if (past?.outcome === 'paid')
    throw new DomainError('ALREADY_PAID', 'this reservation is already paid');
  if (past?.outcome === 'expired') throw new DomainError('HOLD_EXPIRED', 'this hold has expired');
  if (state.status === 'paying')
    throw new DomainError('PAYMENT_IN_PROGRESS', 'a payment for this reservation is in progress');
  if (state.status !== 'holding')
    throw new DomainError('ALREADY_PAID', 'this reservation is already paid');
  if (isAtOrAfter(now, state.hold.holdExpiresAt))
    throw new DomainError('HOLD_EXPIRED', 'this hold has expired');
  return state.hold;
}

export interface PaymentStep {
  readonly paymentId: string;
  readonly reservationId: string;
  readonly userId: string;
  readonly now: string;
}

/** Locks the seat for this payment: the hold can no longer expire or be paid by another. */
export function decideStartSeatPayment(step: PaymentStep, state: SeatState): SeatEvent[] {
  if ((state.status === 'paying' || state.status === 'paid') && state.paymentId === step.paymentId)
    return [];
  const hold = payableHold(state, step.reservationId, step.userId, step.now);
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

export function decideStartPayment(
  command: PaymentStep & { seatId: string; tokenId: string; amount: number },
  state: PaymentState,
): PaymentEvent[] {
  if (state.status !== 'none') return [];
  const { paymentId, reservationId, seatId, userId, tokenId, amount, now } = command;
  return [
    {
      type: 'PaymentStarted',
      data: { paymentId, reservationId, seatId, userId, tokenId, amount, startedAt: now },
    },
  ];
}

export function decideDebit(
  step: PaymentStep & { amount: number },
  state: WalletState,
): WalletEvent[] {
  if (state.debits[step.paymentId] !== undefined) return [];
  if (state.balance < step.amount) {
    throw new DomainError(
      'INSUFFICIENT_BALANCE',
      `the balance ${state.balance} is less than the price ${step.amount}`,
      {
        balance: state.balance,
        amount: step.amount,
      },
    );
  }
  return [
    {
      type: 'WalletDebited',
      data: {
        userId: step.userId,
        paymentId: step.paymentId,
        amount: step.amount,
        balance: state.balance - step.amount,
        debitedAt: step.now,
      },
    },
  ];
}

export function decideCompleteSeatPayment(step: PaymentStep, state: SeatState): SeatEvent[] {
  if (state.status === 'paid' && state.paymentId === step.paymentId) return [];
  if (state.status !== 'paying' || state.paymentId !== step.paymentId) {
    throw new DomainError(
      'CONCURRENCY_CONFLICT',
      'the seat is no longer reserved for this payment',
    );
  }
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

export function decideCancelSeatPayment(
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

export function decideRefund(step: PaymentStep, state: WalletState): WalletEvent[] {
  const debited = state.debits[step.paymentId];
  if (debited === undefined || state.refunds[step.paymentId] !== undefined) return [];
  return [
    {
      type: 'WalletRefunded',
      data: {
        userId: step.userId,
        paymentId: step.paymentId,
        amount: debited,
        balance: state.balance + debited,
        refundedAt: step.now,
      },
    },
  ];
}

export function decideExpireTokenAfterPayment(
  step: { tokenId: string; now: string },
  state: TokenState,
): TokenEvent[] {
  const current = state.current;
  if (current?.tokenId !== step.tokenId || current.status === 'expired') return [];
  return [
    {
      type: 'TokenExpired',
      data: {
        tokenId: current.tokenId,
        userId: current.userId,
        reason: 'payment',
        expiredAt: step.now,
      },
    },
  ];
}

export type PaymentOutcome =
  { status: 'paid'; balance: number } | { status: 'failed'; code: ErrorCode; refunded: boolean };

export function decideFinishPayment(
  step: { paymentId: string; now: string; outcome: PaymentOutcome },
  state: PaymentState,
): PaymentEvent[] {
  if (state.status !== 'pending') return [];
  const { outcome } = step;
  return outcome.status === 'paid'
    ? [
        {
          type: 'PaymentCompleted',
          data: { paymentId: step.paymentId, balance: outcome.balance, completedAt: step.now },
        },
      ]
    : [
        {
          type: 'PaymentFailed',
          data: {
            paymentId: step.paymentId,
            code: outcome.code,
            refunded: outcome.refunded,
            failedAt: step.now,
          },
        },
      ];
}

// ---- The process ----

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
    throw new DomainError(state.code as ErrorCode, `this payment failed earlier (${state.code})`);
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
  const wallet = foldEvents(walletKind, await deps.store.readStream(walletStream(input.userId)));
  decideDebit({ ...step, amount: hold.price }, wallet);

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
        (state) => decideStartSeatPayment(step, state),
        { retries: 2 },
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
      (state) => decideDebit({ ...step, amount: hold.price }, state),
      {
        retries: 50,
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
        (state) => decideCancelSeatPayment({ ...step, reason: error.code }, state),
        { retries: 5 },
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
  try {
    steps.push(
      await handleCommand(
        deps.store,
        seatStream(step.seatId),
        seatKind,
        (state) => decideCompleteSeatPayment(step, state),
        {
          retries: 5,
          eventIds: () => stepId(step.paymentId, 'seat-paid'),
        },
      ),
    );
  } catch (error) {
    if (!isDomainError(error, 'CONCURRENCY_CONFLICT')) throw error;
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
        retries: 20,
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
    (state) => decideRefund(step, state),
    {
      retries: 50,
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
      retries: 5,
    },
  );
}
