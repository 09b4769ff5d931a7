import type { ErrorCode } from './errors.js';
import type { PaymentStep } from '../deciders/seat.js';
import type { PaymentEvent, PaymentState } from '../events/payment.js';
import type { TokenEvent, TokenState } from '../events/token.js';

/**
 * The payment's decisions on the payment and token streams, pure (docs/payment.md has the
 * flow and its invariants). Its seat and wallet steps are in deciders/seat.ts and
 * deciders/wallet.ts; the process that runs them is pay.ts.
 */
export type { PaymentStep } from '../deciders/seat.js';

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
