import type { FastifyBaseLogger } from 'fastify';
import { z } from 'zod';
import { DomainError, isDomainError } from '../../commands/errors.js';
import { pay, readPayment } from '../../commands/pay.js';
import { deterministicId } from '../../events/event.js';
import type { EventStore } from '../../events/store/port.js';
import { findReservation } from '../../queries/reservations.js';
import type { ApiContext, ZodApp } from '../context.js';
import { awaitReadModels } from '../read-your-writes.js';
import { id, idempotencyHeaders } from '../schemas.js';

const paymentReceipt = z.object({
  paymentId: z.string(),
  reservationId: z.string(),
  amount: z.number().int(),
  balance: z.number().int(),
  status: z.literal('paid'),
});

export function paymentRoutes(app: ZodApp, { system, metrics }: ApiContext): void {
  const { db, clock, config } = system;

  app.post(
    '/payments',
    {
      config: { access: 'pass', allowExpiredForReplay: true },
      schema: {
        tags: ['payments'],
        operationId: 'payReservation',
        summary: 'Pay for your held seat from your wallet; your token expires afterwards',
        headers: idempotencyHeaders,
        body: z.strictObject({ reservationId: id }),
        response: {
          201: paymentReceipt,
        },
      },
    },
    async (request, reply) => {
      const caller = request.caller!;
      const idempotencyKey = request.headers['idempotency-key'];
      if (caller.status === 'expired')
        await refuseExpiredUnlessReplay(system.store, caller, idempotencyKey);
      const reservation = await findReservation(db, request.body.reservationId, clock());
      if (!reservation) throw new DomainError('NOT_FOUND', 'no such reservation');
      if (reservation.userId !== caller.userId)
        throw new DomainError('SEAT_NOT_HELD_BY_USER', 'this seat is held by someone else');
      try {
        const { receipt, written } = await pay(
          { store: system.store, clock },
          {
            userId: caller.userId,
            tokenId: caller.token,
            reservationId: reservation.reservationId,
            seatId: reservation.seatId,
            idempotencyKey,
          },
        );
        metrics.payments.inc({ outcome: 'paid' });
        logPaymentOutcome(request.log, caller.userId, receipt.reservationId, receipt);
        await awaitReadModels(system.runner, reply, written, config.READ_YOUR_WRITES_TIMEOUT_MS);
        return reply.code(201).send(receipt);
      } catch (error) {
        metrics.payments.inc({ outcome: isDomainError(error) ? error.code : 'error' });
        // Infrastructure and unexpected errors are logged by the error handler.
        if (isDomainError(error))
          logPaymentOutcome(request.log, caller.userId, reservation.reservationId, error);
        throw error;
      }
    },
  );
}

/**
 * A payment expires its token, so a retry of that very payment (same key) must still get
 * its answer; anything else needs a live token.
 */
async function refuseExpiredUnlessReplay(
  store: EventStore,
  caller: { userId: string; reason?: string | undefined },
  idempotencyKey: string | undefined,
): Promise<void> {
  const replay = idempotencyKey
    ? await readPayment(store, deterministicId('payment', caller.userId, idempotencyKey))
    : undefined;
  if (!replay || replay.status === 'none' || caller.reason === 'revoked')
    throw new DomainError('TOKEN_EXPIRED', 'this queue token has expired; issue a new one', {
      reason: caller.reason ?? 'ttl',
    });
}

/** One log line per payment outcome: paid, or refused with its code. */
function logPaymentOutcome(
  log: FastifyBaseLogger,
  userId: string,
  reservationId: string,
  outcome: z.infer<typeof paymentReceipt> | DomainError,
): void {
  if (outcome instanceof DomainError) {
    log.info(
      { reservationId, userId, outcome: outcome.code },
      `payment for ${reservationId}: refused, ${outcome.code}`,
    );
    return;
  }
  log.info(
    {
      paymentId: outcome.paymentId,
      reservationId,
      userId,
      amount: outcome.amount,
      outcome: 'paid',
    },
    `payment ${outcome.paymentId}: paid ${outcome.amount}`,
  );
}
