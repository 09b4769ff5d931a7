import { foldEvents } from '../events/event.js';
import type { PaymentStarted } from '../events/payment.js';
import { decideSeat, seatKind, seatStream } from '../deciders/seat.js';
import { walletKind, walletStream } from '../events/wallet.js';
import { START, type Position } from '../events/store/port.js';
import { completeAfterDebit, finishPayment, readPayment, refund, type PaymentDeps } from './pay.js';
import type { PaymentOutcome } from './payment-decisions.js';
import { handleCommand } from './handle-command.js';
import { commandRetries } from '../policies.js';

const paymentEventTypes = ['PaymentStarted', 'PaymentCompleted', 'PaymentFailed'];

/**
 * Finishes payments that a crash left pending. It follows the payment events of the log
 * (an in-memory checkpoint, rebuilt from the log at start-up) and settles each payment
 * still pending after `recoverAfterMs`: forwards if the wallet was debited, otherwise
 * backwards (the seat goes back to its hold and nothing is charged).
 */
export class PaymentRecovery {
  private checkpoint: Position = START;
  private readonly pending = new Map<string, PaymentStarted['data']>();

  constructor(private readonly deps: PaymentDeps & { recoverAfterMs: number }) {}

  async run(): Promise<{ recovered: PaymentOutcome[] }> {
    for (;;) {
      const events = await this.deps.store.readAll({
        fromPosition: this.checkpoint,
        filter: { eventTypes: paymentEventTypes },
        maxCount: 1000,
      });
      for (const event of events) {
        const data = event.data as { paymentId: string };
        if (event.type === 'PaymentStarted')
          this.pending.set(data.paymentId, event.data as PaymentStarted['data']);
        else this.pending.delete(data.paymentId);
        this.checkpoint = event.position;
      }
      if (events.length < 1000) break;
    }
    const cutoff = this.deps.clock().getTime() - this.deps.recoverAfterMs;
    const recovered: PaymentOutcome[] = [];
    for (const started of [...this.pending.values()]) {
      if (Date.parse(started.startedAt) > cutoff) continue;
      recovered.push(await settlePayment(this.deps, started));
      this.pending.delete(started.paymentId);
    }
    return { recovered };
  }
}

export async function settlePayment(
  deps: PaymentDeps,
  started: PaymentStarted['data'],
): Promise<PaymentOutcome> {
  const { paymentId, reservationId, seatId, userId, tokenId } = started;
  const current = await readPayment(deps.store, paymentId);
  if (current.status === 'paid') return { status: 'paid', balance: current.balance };
  if (current.status === 'failed')
    return { status: 'failed', code: current.code, refunded: current.refunded };

  const now = deps.clock().toISOString();
  const step = { paymentId, reservationId, userId, now };
  const seat = foldEvents(seatKind, await deps.store.readStream(seatStream(seatId)));
  const wallet = foldEvents(walletKind, await deps.store.readStream(walletStream(userId)));
  const seatIsOurs =
    (seat.status === 'paying' || seat.status === 'paid') && seat.paymentId === paymentId;
  const debited = wallet.debits[paymentId] !== undefined && wallet.refunds[paymentId] === undefined;

  let outcome: PaymentOutcome;
  if (seatIsOurs && debited) {
    try {
      await completeAfterDebit(deps, { ...step, seatId, tokenId });
      const balance = foldEvents(
        walletKind,
        await deps.store.readStream(walletStream(userId)),
      ).balance;
      outcome = { status: 'paid', balance };
    } catch {
      outcome = { status: 'failed', code: 'PAYMENT_ABORTED', refunded: true };
    }
  } else {
    if (seatIsOurs) {
      await handleCommand(
        deps.store,
        seatStream(seatId),
        seatKind,
        (state) =>
          decideSeat(
            { type: 'CancelSeatPayment', data: { ...step, reason: 'PAYMENT_ABORTED' } },
            state,
          ),
        { retries: commandRetries.seatPaymentOutcome },
      );
    }
    if (debited) await refund(deps.store, step);
    outcome = { status: 'failed', code: 'PAYMENT_ABORTED', refunded: debited };
  }
  const finished = await finishPayment(deps.store, paymentId, now, outcome);
  const state = finished.state;
  if (state.status === 'paid') return { status: 'paid', balance: state.balance };
  if (state.status === 'failed')
    return { status: 'failed', code: state.code, refunded: state.refunded };
  return outcome;
}
