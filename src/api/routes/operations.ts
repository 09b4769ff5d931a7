import { sql } from 'kysely';
import { z } from 'zod';
import { projectionStatuses } from '../../queries/projections.js';
import type { ApiContext, ZodApp } from '../context.js';

export function operationsRoutes(app: ZodApp, { system, metrics }: ApiContext): void {
  app.get(
    '/healthz',
    {
      config: { access: 'public' },
      schema: {
        tags: ['operations'],
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
        summary: 'Store and read models reachable; projections caught up',
      },
    },
    async (_request, reply) => {
      try {
        await sql`SELECT 1`.execute(system.db);
        const statuses = await projectionStatuses(system);
        const lagging = statuses.filter(
          (status) => status.lag > 1000 || status.status === 'failing',
        );
        const body = {
          status: lagging.length === 0 ? 'ready' : 'lagging',
          projections: statuses.map(({ name, lag, status }) => ({ name, lag, status })),
        };
        return reply.code(lagging.length === 0 ? 200 : 503).send(body);
      } catch (error) {
        return reply.code(503).send({
          status: 'unavailable',
          detail: error instanceof Error ? error.message : String(error),
        });
      }
    },
  );

  app.get(
    '/metrics',
    {
      config: { access: 'public' },
      schema: { tags: ['operations'], summary: 'Prometheus metrics' },
    },
    async (_request, reply) =>
      reply.type(metrics.registry.contentType).send(await metrics.registry.metrics()),
  );
}
