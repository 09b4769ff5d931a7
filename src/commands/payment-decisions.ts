import { isAtOrAfter } from './clock.js';
import { DomainError, type ErrorCode } from './errors.js';
import type { PaymentEvent, PaymentState } from '../events/payment.js';
import type { Hold, SeatEvent, SeatState } from '../events/seat.js';
import type { TokenEvent, TokenState } from '../events/token.js';
import type { WalletEvent, WalletState } from '../events/wallet.js';

/**
 * The payment's decisions, one per step and stream, pure (docs/payment.md has the flow
 * and its invariants). The process that runs them is pay.ts.
 */

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
    // A decided outcome (recovery took the seat back), not a retryable conflict.
    throw new DomainError('PAYMENT_ABORTED', 'the seat is no longer reserved for this payment');
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
