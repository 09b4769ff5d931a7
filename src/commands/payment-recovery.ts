import { foldEvents } from '../events/event.js';
import type { PaymentOutcome } from '../deciders/payment.js';
import { seatKind, seatStream } from '../deciders/seat.js';
import { walletKind, walletStream } from '../deciders/wallet.js';
import type { Db } from '../projections/database.js';
import {
  completeAfterDebit,
  finishPayment,
  readPayment,
  recordedOutcome,
  rollBackPayment,
  type PaymentDeps,
  type PaymentInProgress,
} from './payment-steps.js';
import { paymentRecoveryBatch } from '../policies.js';

export interface RecoveryDeps extends PaymentDeps {
  readonly db: Db;
  readonly recoverAfterMs: number;
  /** How many pending payments one pass takes on (oldest first). */
  readonly batchSize?: number;
  readonly log?: { error(error: unknown, message: string): void };
  /**
   * TEST ONLY: reintroduces defect 1 of issue 9 (any error while completing after the
   * debit is recorded as a refunded failure), so the simulation can show it finds it.
   */
  readonly reintroduceDefect1?: boolean;
}

export interface RecoveryPass {
  /** Payments this pass brought to an outcome. */
  readonly recovered: PaymentOutcome[];
  /** Payments left pending because an infrastructure error interrupted them. */
  readonly deferred: { paymentId: string; error: unknown }[];
}

/**
 * Finishes payments that a crash left pending. Candidates come from the `payments` read
 * model (its `payments_pending` partial index): every payment still pending there after
 * `recoverAfterMs`. Each is decided on its streams, forwards if the wallet was debited,
 * otherwise backwards. Only a decided domain outcome ends a payment; an infrastructure
 * error (dropped connection, timeout) leaves it pending for the next pass.
 */
export class PaymentRecovery {
  constructor(private readonly deps: RecoveryDeps) {}

  async run(): Promise<RecoveryPass> {
    const cutoff = new Date(this.deps.clock().getTime() - this.deps.recoverAfterMs);
    const candidates = await this.deps.db
      .selectFrom('payments')
      .select('payment_id')
      .where('status', '=', 'pending')
      .where('started_at', '<=', cutoff)
      .orderBy('started_at')
      .limit(this.deps.batchSize ?? paymentRecoveryBatch)
      .execute();
    const recovered: PaymentOutcome[] = [];
    const deferred: RecoveryPass['deferred'] = [];
    for (const { payment_id: paymentId } of candidates) {
      try {
        const outcome = await settlePayment(this.deps, paymentId);
        if (outcome) recovered.push(outcome);
      } catch (error) {
        deferred.push({ paymentId, error });
        this.deps.log?.error(
          error,
          `payment recovery: ${paymentId} stays pending for the next pass`,
        );
      }
    }
    return { recovered, deferred };
  }
}

/**
 * Brings one pending payment to its outcome, or returns undefined if it already has one.
 * Throws (leaving the payment pending) on anything that is not a decided outcome.
 */
export async function settlePayment(
  deps: PaymentDeps & Pick<RecoveryDeps, 'reintroduceDefect1'>,
  paymentId: string,
): Promise<PaymentOutcome | undefined> {
  const current = await readPayment(deps.store, paymentId);
  if (current.status !== 'pending') return undefined;
  const { reservationId, seatId, userId, tokenId } = current.payment;
  const now = deps.clock().toISOString();
  const payment: PaymentInProgress = { paymentId, reservationId, userId, seatId, tokenId, now };
  const seat = foldEvents(seatKind, await deps.store.readStream(seatStream(seatId)));
  const wallet = foldEvents(walletKind, await deps.store.readStream(walletStream(userId)));
  const seatIsOurs =
    (seat.status === 'paying' || seat.status === 'paid') && seat.paymentId === paymentId;
  const debited = wallet.debits[paymentId] !== undefined && wallet.refunds[paymentId] === undefined;

  if (!(seatIsOurs && debited)) {
    // Backwards: the seat goes back to its hold, any debit is refunded.
    const { outcome } = await rollBackPayment(deps.store, payment, {
      code: 'PAYMENT_ABORTED',
      seatLocked: seatIsOurs,
      debited,
    });
    return outcome;
  }
  return rollForward(deps, payment);
}

/** Forwards: the seat is ours and the money taken, so finish the booking. */
async function rollForward(
  deps: PaymentDeps & Pick<RecoveryDeps, 'reintroduceDefect1'>,
  payment: PaymentInProgress,
): Promise<PaymentOutcome> {
  let outcome: PaymentOutcome;
  try {
    const completion = await completeAfterDebit(deps, payment);
    // Aborted is decided: the seat was lost, completeAfterDebit refunded and recorded it.
    if (completion.status === 'aborted') return completion.outcome;
    const wallet = foldEvents(
      walletKind,
      await deps.store.readStream(walletStream(payment.userId)),
    );
    outcome = { status: 'paid', balance: wallet.balance };
  } catch (error) {
    // Anything thrown (a dropped connection, an exhausted retry) decided nothing: the
    // payment stays pending for the next pass.
    if (!deps.reintroduceDefect1) throw error;
    outcome = { status: 'failed', code: 'PAYMENT_ABORTED', refunded: true };
  }
  const finished = await finishPayment(deps.store, payment.paymentId, payment.now, outcome);
  return recordedOutcome(finished.state) ?? outcome;
}
