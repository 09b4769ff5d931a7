import { z } from 'zod';
import { DomainError } from '../../commands/errors.js';
import { scheduleConcert } from '../../commands/schedule-concert.js';
import { projections } from '../../projections/index.js';
import { projectionStatuses } from '../../queries/projections.js';
import { streamStateAt, toHistoryEntry } from '../../queries/streams.js';
import type { ApiContext, ZodApp } from '../context.js';
import { awaitReadModels } from '../read-your-writes.js';
import { historyEntry, isoTime, storedText, storedTime } from '../schemas.js';

const concertPlan = z.strictObject({
  title: storedText(200).trim().min(1),
  dates: z
    .array(
      z.strictObject({
        concertTime: storedTime,
        reservationStartTime: storedTime,
        seats: z
          .array(
            z.strictObject({
              seatNumber: z.number().int().positive().max(1_000_000),
              price: z.number().int().nonnegative().max(100_000_000),
            }),
          )
          .min(1)
          .max(10_000),
      }),
    )
    .min(1)
    .max(366),
});

const streamName = z
  .string()
  .min(1)
  .max(300)
  // Stream names embed user ids, which a JWT `sub` makes any printable text (`token-auth0|abc`).
  .regex(/^[^\p{C}]+$/u, { error: 'must be a stream name (printable characters)' });

export function adminRoutes(app: ZodApp, context: ApiContext): void {
  const { system } = context;
  const { config } = system;

  app.post(
    '/admin/concerts',
    {
      bodyLimit: 8 * 1024 * 1024,
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        operationId: 'scheduleConcert',
        summary: 'Schedule a concert with its dates and seats',
        body: concertPlan,
        response: {
          201: z.object({
            concertId: z.string(),
            dates: z.array(
              z.object({
                concertTimeId: z.string(),
                seats: z.array(z.object({ seatId: z.string(), seatNumber: z.number().int() })),
              }),
            ),
          }),
        },
      },
    },
    async (request, reply) => {
      const { concert, written } = await scheduleConcert(system, request.body);
      await awaitReadModels(system.runner, reply, written, config.READ_YOUR_WRITES_TIMEOUT_MS);
      return reply.code(201).send({
        concertId: concert.concertId,
        dates: concert.dates.map((date) => ({
          concertTimeId: date.concertTimeId,
          seats: date.seats.map((seat) => ({ seatId: seat.seatId, seatNumber: seat.seatNumber })),
        })),
      });
    },
  );

  streamHistoryRoute(app, context);
  streamStateRoute(app, context);
  rebuildRoute(app, context);
  projectionStatusRoute(app, context);
}

function streamHistoryRoute(app: ZodApp, { system }: ApiContext): void {
  app.get(
    '/admin/streams/:streamName/events',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        operationId: 'getStreamHistory',
        summary: 'The full history of a stream (seat-, wallet-, token-, payment-, concert-)',
        params: z.object({ streamName }),
        response: {
          200: z.array(historyEntry),
        },
      },
    },
    async (request) => {
      const events = await system.store.readStream(request.params.streamName);
      if (events.length === 0)
        throw new DomainError('NOT_FOUND', `no stream ${request.params.streamName}`);
      return events.map(toHistoryEntry);
    },
  );
}

function streamStateRoute(app: ZodApp, { system }: ApiContext): void {
  app.get(
    '/admin/streams/:streamName/state',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        operationId: 'getStreamState',
        summary:
          "A stream's state as of a time or a log position (folded with the commands' evolve)",
        params: z.object({ streamName }),
        querystring: z.object({
          at: z
            .union([isoTime, z.string().regex(/^\d+\/\d+$/)])
            .optional()
            .describe('ISO time or position "commit/prepare"; default now'),
        }),
        response: {
          200: z.object({
            streamName: z.string(),
            at: z.string(),
            revision: z.number().int(),
            position: z.string().nullable(),
            state: z.unknown(),
          }),
        },
      },
    },
    async (request) => {
      const { streamName } = request.params;
      const exists = (await system.store.readStream(streamName, { maxCount: 1 })).length > 0;
      const state = exists
        ? await streamStateAt(system.store, streamName, request.query.at)
        : undefined;
      if (!state) throw new DomainError('NOT_FOUND', `no stream ${streamName} of a known kind`);
      return state;
    },
  );
}

function rebuildRoute(app: ZodApp, { rebuilds }: ApiContext): void {
  app.post(
    '/admin/projections/:name/rebuild',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        operationId: 'rebuildProjection',
        summary:
          'Rebuild a projection beside the live one and swap it in; progress in GET /admin/projections',
        params: z.object({ name: z.string() }),
        response: {
          202: z.object({ projection: z.string(), status: z.literal('started') }),
        },
      },
    },
    async (request, reply) => {
      const projection = projections.find((candidate) => candidate.name === request.params.name);
      if (!projection) throw new DomainError('NOT_FOUND', `no projection ${request.params.name}`);
      if (!(await rebuilds.start(projection)))
        throw new DomainError(
          'CONCURRENCY_CONFLICT',
          `a rebuild of ${projection.name} is already running (in this or another process)`,
        );
      return reply.code(202).send({ projection: projection.name, status: 'started' as const });
    },
  );
}

function projectionStatusRoute(app: ZodApp, { system, rebuilds }: ApiContext): void {
  app.get(
    '/admin/projections',
    {
      config: { access: 'admin' },
      schema: {
        tags: ['admin'],
        operationId: 'listProjections',
        summary: 'Each projection: checkpoint, lag, status',
        response: {
          200: z.array(
            z.object({
              name: z.string(),
              version: z.number().int(),
              checkpoint: z.string(),
              lag: z
                .number()
                .int()
                .describe('events of its types not yet applied (capped at 10000)'),
              eventsApplied: z.number().int(),
              status: z.string(),
              lastError: z.string().optional(),
              rebuild: z
                .object({
                  phase: z.string(),
                  applied: z.number().int(),
                  total: z.number().int().optional(),
                  eventsPerSecond: z.number(),
                  error: z.string().optional(),
                })
                .optional(),
            }),
          ),
        },
      },
    },
    async () =>
      (await projectionStatuses(system)).map((status) => {
        const rebuild = rebuilds.progress(status.name);
        if (!rebuild) return status;
        const { phase, applied, total, eventsPerSecond } = rebuild;
        const error = rebuild.phase === 'failed' ? rebuild.error : undefined;
        return {
          ...status,
          rebuild: {
            phase,
            applied,
            eventsPerSecond,
            ...(total !== undefined ? { total } : {}),
            ...(error ? { error } : {}),
          },
        };
      }),
  );
}
