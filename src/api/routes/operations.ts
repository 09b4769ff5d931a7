import { sql } from 'kysely';
import { z } from 'zod';
import { projectionStatuses } from '../../queries/projections.js';
import type { ApiContext, ZodApp } from '../context.js';

const projections = z.array(
  z.object({ name: z.string(), lag: z.number().int(), status: z.string() }),
);

export function operationsRoutes(app: ZodApp, context: ApiContext): void {
  const { system } = context;
  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        operationId: 'getHealth',
        summary: 'The process is up',
        response: { 200: z.object({ status: z.literal('ok') }) },
      },
    },
    async () => ({ status: 'ok' as const }),
  );

  app.get(
    '/readyz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
        operationId: 'getReadiness',
        summary: 'Store and read models reachable; projections caught up',
        response: {
          200: z.object({ status: z.literal('ready'), projections }),
          503: z.union([
            z.object({ status: z.literal('lagging'), projections }),
            z.object({ status: z.literal('unavailable'), detail: z.string() }),
          ]),
        },
      },
    },
    async (_request, reply) => {
      try {
        await sql`SELECT 1`.execute(system.db);
        const statuses = await projectionStatuses(system);
        const lagging = statuses.filter(
          (status) => status.lag > 1000 || status.status === 'failing',
        );
        const projections = statuses.map(({ name, lag, status }) => ({ name, lag, status }));
        if (lagging.length === 0) return reply.code(200).send({ status: 'ready', projections });
        return reply.code(503).send({ status: 'lagging', projections });
      } catch (error) {
        return reply.code(503).send({
          status: 'unavailable' as const,
          detail: error instanceof Error ? error.message : String(error),
        });
      }
    },
  );

  metricsRoute(app, context);
}

function metricsRoute(app: ZodApp, { metrics }: ApiContext): void {
  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: { tags: ['operations'], operationId: 'getMetrics', summary: 'Prometheus metrics' },
    },
    async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
