import { randomUUID } from 'node:crypto';
import { deterministicId } from '../events/event.js';
import { decideWallet, walletKind, walletStream, type Charge } from '../deciders/wallet.js';
import type { EventStore } from '../events/store/port.js';
import type { Clock } from './clock.js';
import { handleCommand } from './handle-command.js';
import { writtenBy, type Written } from './written.js';
import { commandRetries } from '../policies.js';

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
    (state) => decideWallet({ type: 'Charge', data: command }, state),
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
