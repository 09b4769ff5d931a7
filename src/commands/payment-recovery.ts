import { foldEvents } from '../events/event.js';
import { decideSeat, seatKind, seatStream } from '../deciders/seat.js';
import { walletKind, walletStream } from '../events/wallet.js';
import type { Db } from '../projections/database.js';
import { completeAfterDebit, finishPayment, readPayment, refund, type PaymentDeps } from './pay.js';
import type { PaymentOutcome } from './payment-decisions.js';
import { isDomainError } from './errors.js';
import { handleCommand } from './handle-command.js';
import { commandRetries, paymentRecoveryBatch } from '../policies.js';

export interface RecoveryDeps extends PaymentDeps {
  readonly db: Db;
  readonly recoverAfterMs: number;
  /** How many pending payments one pass takes on (oldest first). */
  readonly batchSize?: number;
  readonly log?: {
    error(error: unknown, message: string): void;
    info?(message: string, fields?: Record<string, unknown>): void;
  };
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
        if (outcome) {
          recovered.push(outcome);
          this.deps.log?.info?.(`payment recovery: ${paymentId} ${outcome.status}`, {
            paymentId,
            ...outcome,
          });
        }
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
    } catch (error) {
      // PAYMENT_ABORTED is decided: the seat was lost, completeAfterDebit refunded and
      // recorded it. Anything else (a dropped connection) decided nothing: stay pending.
      if (!isDomainError(error, 'PAYMENT_ABORTED') && !deps.reintroduceDefect1) throw error;
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
