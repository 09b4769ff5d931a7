import { refuse, type Decision } from '../commands/decision.js';
import type { WalletEvent, WalletState } from '../events/wallet.js';
import type { PaymentStep } from './seat.js';

export { walletKind, walletStream, type WalletEvent, type WalletState } from '../events/wallet.js';

/**
 * Every decision about one wallet (stream `wallet-{userId}`; its events and evolve are in
 * events/wallet.ts). Pure: time and ids arrive in the command.
 */
export type WalletCommand =
  | { type: 'Charge'; data: Charge }
  | { type: 'Debit'; data: PaymentStep & { amount: number } }
  | { type: 'Refund'; data: PaymentStep };

export interface Charge {
  readonly userId: string;
  readonly chargeId: string;
  readonly amount: number;
  readonly maxAmount: number;
  readonly now: string;
}

export function decideWallet(command: WalletCommand, state: WalletState): Decision<WalletEvent> {
  switch (command.type) {
    case 'Charge':
      return decideCharge(command.data, state);
    case 'Debit':
      return decideDebit(command.data, state);
    case 'Refund':
      return decideRefund(command.data, state);
    default: {
      const _exhaustive: never = command;
      return _exhaustive;
    }
  }
}

function decideCharge(command: Charge, state: WalletState): Decision<WalletEvent> {
  const { amount } = command;
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > command.maxAmount)
    return refuse(
      'VALIDATION_FAILED',
      `amount must be a whole number from 1 to ${command.maxAmount}`,
    );
  const previous = state.charges[command.chargeId];
  if (previous) {
    if (previous.amount === amount) return [];
    return refuse('IDEMPOTENCY_KEY_REUSED', 'this Idempotency-Key was used for a different charge');
  }
  const balance = state.balance + amount;
  if (!Number.isSafeInteger(balance))
    return refuse('VALIDATION_FAILED', 'the balance would grow too large');
  return [
    {
      type: 'WalletCharged',
      data: {
        userId: command.userId,
        chargeId: command.chargeId,
        amount,
        balance,
        chargedAt: command.now,
      },
    },
  ];
}

function decideDebit(
  step: PaymentStep & { amount: number },
  state: WalletState,
): Decision<WalletEvent> {
  if (state.debits[step.paymentId] !== undefined) return [];
  if (state.balance < step.amount) {
    return refuse(
      'INSUFFICIENT_BALANCE',
      `the balance ${state.balance} is less than the price ${step.amount}`,
      { balance: state.balance, amount: step.amount },
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

function decideRefund(step: PaymentStep, state: WalletState): WalletEvent[] {
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
