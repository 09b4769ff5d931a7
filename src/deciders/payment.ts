import type { ErrorCode } from '../commands/errors.js';
import type { PaymentEvent, PaymentState } from '../events/payment.js';
import type { PaymentStep } from './seat.js';

export {
  paymentKind,
  paymentStream,
  type PaymentEvent,
  type PaymentState,
} from '../events/payment.js';
export type { PaymentStep } from './seat.js';

/**
 * Every decision about one payment's record (stream `payment-{paymentId}`; its events and
 * evolve are in events/payment.ts). The payment's steps on the seat, wallet and token
 * streams are decided by those streams' deciders; the process that runs them all is
 * commands/payment-steps.ts (docs/payment.md has the flow and its invariants).
 */
export type PaymentCommand =
  | { type: 'StartPayment'; data: StartPayment }
  | { type: 'FinishPayment'; data: { paymentId: string; now: string; outcome: PaymentOutcome } };

export interface StartPayment extends PaymentStep {
  readonly seatId: string;
  readonly tokenId: string;
  readonly amount: number;
}

/** How a payment ended: paid, or failed with the code of why (and whether money went back). */
export type PaymentOutcome =
  { status: 'paid'; balance: number } | { status: 'failed'; code: ErrorCode; refunded: boolean };

export function decidePayment(command: PaymentCommand, state: PaymentState): PaymentEvent[] {
  switch (command.type) {
    case 'StartPayment':
      return decideStartPayment(command.data, state);
    case 'FinishPayment':
      return decideFinishPayment(command.data, state);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

/** A payment id starts once: a second start (a retried request) decides nothing. */
function decideStartPayment(command: StartPayment, state: PaymentState): PaymentEvent[] {
  if (state.status !== 'none') return [];
  const { paymentId, reservationId, seatId, userId, tokenId, amount, now } = command;
  return [
    {
      type: 'PaymentStarted',
      data: { paymentId, reservationId, seatId, userId, tokenId, amount, startedAt: now },
    },
  ];
}

/** Only one outcome is ever recorded: the first terminal event wins, a later one is a no-op. */
function decideFinishPayment(
  command: { paymentId: string; now: string; outcome: PaymentOutcome },
  state: PaymentState,
): PaymentEvent[] {
  if (state.status !== 'pending') return [];
  const { paymentId, now, outcome } = command;
  if (outcome.status === 'paid')
    return [
      { type: 'PaymentCompleted', data: { paymentId, balance: outcome.balance, completedAt: now } },
    ];
  return [
    {
      type: 'PaymentFailed',
      data: { paymentId, code: outcome.code, refunded: outcome.refunded, failedAt: now },
    },
  ];
}
