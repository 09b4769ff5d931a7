import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import {
  jsonSchemaTransform,
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { countEventsInPostgres, RebuildJobs } from '../projections/rebuild.js';
import { createTokenLookup } from '../queries/tokens.js';
import type { System } from '../system.js';
import type { ApiContext } from './context.js';
import { registerAccess } from './plugins/access.js';
import { createMetrics, registerHttpMetrics } from './plugins/metrics.js';
import { registerProblemDetails } from './problem-details.js';
import { loadStreamTicketKey, StreamTickets } from './stream-tickets.js';
import { adminRoutes } from './routes/admin.js';
import { auditRoutes } from './routes/audit.js';
import { concertRoutes } from './routes/concerts.js';
import { operationsRoutes } from './routes/operations.js';
import { paymentRoutes } from './routes/payments.js';
import { queueRoutes } from './routes/queue.js';
import { reservationRoutes } from './routes/reservations.js';
import { seatMapRoutes } from './routes/seat-map.js';
import { walletRoutes } from './routes/wallet.js';
import { webRoutes } from './routes/web.js';

export interface BuildAppOptions {
  readonly system: System;
  readonly adminApiKey: string;
  /** A pino logger; none means silent. */
  readonly logger?: FastifyBaseLogger;
}

/** Builds the HTTP API on a running system. It never listens: server.ts does. */
export async function buildApp({ system, adminApiKey, logger }: BuildAppOptions) {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: 64 * 1024,
    requestIdHeader: 'x-request-id',
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemDetails(app);
  // JSON in and out: any other body type is refused with 415 rather than half-parsed.
  app.removeContentTypeParser('text/plain');

  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Concert reservation API',
        description:
          'Queue tokens, seat holds, wallet and payments. Errors are RFC 9457 problem+json with a stable `code`.',
        version: '1.0.0',
      },
      components: {
        securitySchemes: {
          queueToken: { type: 'apiKey', in: 'header', name: 'X-Queue-Token' },
          adminKey: { type: 'apiKey', in: 'header', name: 'X-Admin-Key' },
          streamTicket: {
            type: 'apiKey',
            in: 'query',
            name: 'ticket',
            description:
              'Event streams only (`.../events`), for browsers whose EventSource cannot send headers: a ticket from `POST /queue/tokens/current/stream-ticket`, valid for 60 s to open a stream (an open stream stays open). It never contains the queue token itself.',
          },
        },
      },
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });

  const metrics = createMetrics(system);
  registerHttpMetrics(app, metrics);
  const findToken = createTokenLookup(system);
  const streamTickets = new StreamTickets(await loadStreamTicketKey(system.db));
  registerAccess(app, { findToken, clock: system.clock, adminApiKey, streamTickets });

  const rebuilds = new RebuildJobs({
    ...system,
    ...(system.config.EVENTSTORE_URL ? {} : { countEvents: countEventsInPostgres(system.db) }),
  });
  app.addHook('onClose', () => rebuilds.settle());
  const context: ApiContext = { system, metrics, rebuilds, findToken, streamTickets };
  for (const routes of [
    queueRoutes,
    concertRoutes,
    seatMapRoutes,
    reservationRoutes,
    walletRoutes,
    paymentRoutes,
    adminRoutes,
    auditRoutes,
    operationsRoutes,
    webRoutes,
  ]) {
    routes(app, context);
  }
  await app.ready();
  return app;
}

export type App = Awaited<ReturnType<typeof buildApp>>;
