import { z } from 'zod';
import { DomainError, isDomainError } from '../../commands/errors.js';
import { holdSeat } from '../../commands/hold-seat.js';
import { findReservation } from '../../queries/reservations.js';
import type { ApiContext, ZodApp } from '../context.js';
import { awaitReadModels } from '../read-your-writes.js';
import { id, isoTime } from '../schemas.js';

const reservation = z.object({
  reservationId: z.string(),
  concertTimeId: z.string(),
  seatId: z.string(),
  price: z.number().int(),
  status: z.enum(['holding', 'paid', 'expired']),
  holdExpiresAt: isoTime,
});

export function reservationRoutes(app: ZodApp, { system, metrics }: ApiContext): void {
  const { db, clock, config } = system;

  app.post(
    '/reservations',
    {
      config: { access: 'pass' },
      schema: {
        tags: ['reservations'],
        operationId: 'holdSeat',
        summary: 'Hold a seat for SEAT_HOLD_TTL_SECONDS',
        body: z.strictObject({ concertTimeId: id, seatId: id }),
        response: {
          201: reservation,
        },
      },
    },
    async (request, reply) => {
      try {
        const { reservation: held, written } = await holdSeat(
          { store: system.store, clock, holdTtlSeconds: config.SEAT_HOLD_TTL_SECONDS },
          { userId: request.caller!.userId, ...request.body },
        );
        metrics.holds.inc({ outcome: 'held' });
        await awaitReadModels(system.runner, reply, written, config.READ_YOUR_WRITES_TIMEOUT_MS);
        return reply.code(201).send(held);
      } catch (error) {
        metrics.holds.inc({ outcome: isDomainError(error) ? error.code : 'error' });
        throw error;
      }
    },
  );

  app.get(
    '/reservations/:reservationId',
    {
      config: { access: 'pass' },
      schema: {
        tags: ['reservations'],
        operationId: 'getReservation',
        summary: 'One of your reservations',
        params: z.object({ reservationId: id }),
        response: { 200: reservation },
      },
    },
    async (request) => {
      const found = await findReservation(db, request.params.reservationId, clock());
      // Someone else's reservation is as unknown to the caller as a missing one.
      if (!found || found.userId !== request.caller!.userId)
        throw new DomainError('NOT_FOUND', 'no such reservation');
      const { userId: _owner, ...view } = found;
      return view;
    },
  );
}
