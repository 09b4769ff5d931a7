import { z } from 'zod';
import { DomainError } from '../../commands/errors.js';
import {
  createAvailableDates,
  createAvailableSeatsJson,
  listConcerts,
} from '../../queries/catalog.js';
import type { ApiContext, ZodApp } from '../context.js';
import { id, isoTime } from '../schemas.js';

export function concertRoutes(app: ZodApp, context: ApiContext): void {
  const { db } = context.system;

  app.get(
    '/concerts',
    {
      config: { access: 'public' },
      schema: {
        tags: ['catalog'],
        operationId: 'listConcerts',
        summary: 'All concerts (no token needed)',
        response: {
          200: z.array(
            z.object({
              concertId: z.string(),
              title: z.string(),
              dates: z.number().int(),
              firstConcertTime: isoTime.nullable(),
              lastConcertTime: isoTime.nullable(),
            }),
          ),
        },
      },
    },
    async () => listConcerts(db),
  );

  availableDatesRoute(app, context);
  availableSeatsRoute(app, context);
}

function availableDatesRoute(app: ZodApp, { system }: ApiContext): void {
  const { clock } = system;
  const availableDatesOf = createAvailableDates(system);

  app.get(
    '/concerts/:concertId/dates',
    {
      config: { access: 'pass' },
      schema: {
        tags: ['catalog'],
        operationId: 'listConcertDates',
        summary: 'Future dates of a concert that still have seats',
        params: z.object({ concertId: id }),
        response: {
          200: z.array(
            z.object({
              concertTimeId: z.string(),
              concertId: z.string(),
              concertTime: isoTime,
              reservationStartTime: isoTime,
              availableSeats: z.number().int(),
            }),
          ),
        },
      },
    },
    async (request) => {
      const { concertId } = request.params;
      const dates = await availableDatesOf(concertId, clock());
      if (!dates) throw new DomainError('NOT_FOUND', `no concert ${concertId}`);
      return dates;
    },
  );
}

function availableSeatsRoute(app: ZodApp, { system }: ApiContext): void {
  const seatsJson = createAvailableSeatsJson(system);

  app.get(
    '/concert-times/:concertTimeId/seats',
    {
      config: { access: 'pass' },
      schema: {
        tags: ['catalog'],
        operationId: 'listAvailableSeats',
        summary: 'Empty seats of a concert time, by seat number',
        params: z.object({ concertTimeId: id }),
        response: {
          200: z.array(
            z.object({
              seatId: z.string(),
              seatNumber: z.number().int(),
              price: z.number().int(),
              status: z.literal('empty'),
            }),
          ),
        },
      },
    },
    async (request, reply) => {
      const { concertTimeId } = request.params;
      const seats = await seatsJson(concertTimeId);
      if (seats === undefined)
        throw new DomainError('NOT_FOUND', `no concert time ${concertTimeId}`);
      // Already serialized from the rows the response schema describes: the bytes go as
      // they are (Fastify sends a Buffer without its serializer).
      return reply.type('application/json; charset=utf-8').send(seats as never);
    },
  );
}
