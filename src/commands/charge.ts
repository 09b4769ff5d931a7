import { randomUUID } from 'node:crypto';
import { deterministicId } from '../events/event.js';
import { walletKind, walletStream, type WalletEvent, type WalletState } from '../events/wallet.js';
import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { DomainError } from './errors.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

export interface Charge {
  readonly userId: string;
  readonly chargeId: string;
  readonly amount: number;
  readonly maxAmount: number;
  readonly now: string;
}

export function decideCharge(command: Charge, state: WalletState): WalletEvent[] {
  const { amount } = command;
  if (!Number.isSafeInteger(amount) || amount <= 0 || amount > command.maxAmount) {
    throw new DomainError(
      'VALIDATION_FAILED',
      `amount must be a whole number from 1 to ${command.maxAmount}`,
    );
  }
  const previous = state.charges[command.chargeId];
  if (previous) {
    if (previous.amount === amount) return [];
    throw new DomainError(
      'IDEMPOTENCY_KEY_REUSED',
      'this Idempotency-Key was used for a different charge',
    );
  }
  const balance = state.balance + amount;
  if (!Number.isSafeInteger(balance))
    throw new DomainError('VALIDATION_FAILED', 'the balance would grow too large');
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

/** Charges commute, so conflicts are retried (with jitter) until one round wins. */
export async function charge(
  deps: { store: EventStore; clock: Clock; maxChargeAmount: number },
  input: { userId: string; amount: number; idempotencyKey?: string | undefined },
): Promise<{ chargeId: string; balance: number; written: Written }> {
  const chargeId = input.idempotencyKey
    ? deterministicId('charge', input.userId, input.idempotencyKey)
    : randomUUID();
  const command: Charge = {
    userId: input.userId,
    chargeId,
    amount: input.amount,
    maxAmount: deps.maxChargeAmount,
    now: deps.clock().toISOString(),
  };
  const handled = await handleCommand(
    deps.store,
    walletStream(input.userId),
    walletKind,
    (state) => decideCharge(command, state),
    {
      retries: commandRetries.charge,
      eventIds: () => chargeId,
    },
  );
  return {
    chargeId,
    balance: handled.state.charges[chargeId]!.balance,
    written: writtenBy(handled),
  };
}
