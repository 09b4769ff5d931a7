import cors from '@fastify/cors';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyBaseLogger } from 'fastify';
import {
  serializerCompiler,
  validatorCompiler,
  type ZodTypeProvider,
} from 'fastify-type-provider-zod';
import { postgresLog } from '../projections/rebuild.js';
import { RebuildJobs } from '../projections/rebuild-jobs.js';
import { createTokenLookup } from '../queries/tokens.js';
import { identitySource } from '../config.js';
import type { System } from '../system.js';
import type { ApiContext } from './context.js';
import { createJoinRateLimit } from './join-rate-limit.js';
import { registerAccess } from './plugins/access.js';
import { createCallerVerifier } from './plugins/identity.js';
import { createMetrics, registerHttpMetrics } from './plugins/metrics.js';
import { clientErrorHandler, frameworkErrors, registerProblemDetails } from './problem-details.js';
import { documentRoute, recordRoutes, type IdentityMode } from './openapi/document.js';
import { OneLinePerRequest } from './request-log.js';
import { securityHeaders } from './security-headers.js';
import { adminQueueRoutes } from './routes/admin-queue.js';
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

/** Fastify with zod validation and problem+json errors, before any plugin or route. */
function createFastify(logger: FastifyBaseLogger | undefined) {
  const app = Fastify({
    ...(logger ? { loggerInstance: logger } : { logger: false }),
    bodyLimit: 64 * 1024,
    requestIdHeader: 'x-request-id',
    logController: new OneLinePerRequest(),
    frameworkErrors,
    clientErrorHandler,
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerProblemDetails(app);
  // JSON in and out: any other body type is refused with 415 rather than half-parsed.
  app.removeContentTypeParser('text/plain');
  return app;
}

type BaseApp = ReturnType<typeof createFastify>;

async function registerBrowserHeaders(app: BaseApp, corsOrigins: readonly string[]) {
  // A callback hook, not an async one: no promise per request for a synchronous step.
  app.addHook('onRequest', (_request, reply, done) => {
    reply.headers(securityHeaders);
    done();
  });
  // Closed unless origins are listed: no Access-Control-* headers means browsers refuse.
  if (corsOrigins.length > 0) {
    await app.register(cors, {
      origin: [...corsOrigins],
      methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
      allowedHeaders: [
        'authorization',
        'content-type',
        'x-queue-token',
        'idempotency-key',
        'x-request-id',
      ],
      exposedHeaders: ['retry-after', 'x-request-id', 'x-read-models-behind', 'location'],
      maxAge: 600,
    });
  }
}

/** The OpenAPI document at /docs/json; api/openapi/document.ts describes each route. */
async function registerOpenApi(app: BaseApp, identityMode: IdentityMode) {
  await app.register(swagger, {
    openapi: {
      info: {
        title: 'Concert reservation API',
        description:
          'Queue tokens, seat holds, wallet and payments. Errors are RFC 9457 problem+json with a stable `code`; each error response lists the codes that operation can answer with.',
        version: '1.0.0',
        license: { name: 'UNLICENSED' },
      },
      servers: [{ url: '/', description: 'this server' }],
      tags: [
        { name: 'queue', description: 'Join the waiting queue and follow your place in it' },
        { name: 'catalog', description: 'Concerts, dates, seats and the live seat map' },
        { name: 'reservations', description: 'Seat holds' },
        { name: 'wallet', description: 'Your balance and top-ups' },
        { name: 'payments', description: 'Paying for a held seat' },
        { name: 'admin', description: 'Operators: catalog, audit, projections, queue controls' },
        { name: 'operations', description: 'Health, readiness and metrics' },
      ],
      components: {
        securitySchemes: {
          queueToken: { type: 'apiKey', in: 'header', name: 'X-Queue-Token' },
          adminKey: { type: 'apiKey', in: 'header', name: 'X-Admin-Key' },
          bearerJwt: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT' },
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
    transform: documentRoute(identityMode),
  });
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list' } });
}

/** Builds the HTTP API on a running system. It never listens: server.ts does. */
export async function buildApp({ system, adminApiKey, logger }: BuildAppOptions) {
  const app = createFastify(logger);
  // Every route, as registered, for the test that holds the document to them.
  recordRoutes(app);
  await registerBrowserHeaders(app, system.config.CORS_ORIGINS);
  const identity = identitySource(system.config);
  const identityMode = identity.kind === 'demo' ? 'demo' : 'jwt';
  await registerOpenApi(app, identityMode);

  const metrics = createMetrics(system);
  registerHttpMetrics(app, metrics);
  const findToken = createTokenLookup(system);
  const verifyCaller = createCallerVerifier(identity, system.clock, app.log);
  const streamTickets = new StreamTickets(await loadStreamTicketKey(system.db));
  registerAccess(app, {
    findToken,
    clock: system.clock,
    adminApiKey,
    streamTickets,
    verifyCaller,
  });
  const countJoin = await createJoinRateLimit({
    db: system.db,
    clock: system.clock,
    perMinute: system.config.JOIN_RATE_LIMIT_PER_MINUTE,
  });

  const rebuilds = new RebuildJobs({
    ...system,
    log: { info: (message, fields) => app.log.info(fields ?? {}, message) },
    ...(system.config.EVENTSTORE_URL ? {} : postgresLog(system.db)),
  });
  app.addHook('onClose', () => rebuilds.settle());
  const context: ApiContext = {
    system,
    metrics,
    rebuilds,
    findToken,
    streamTickets,
    countJoin,
    identityMode,
  };
  for (const routes of [
    queueRoutes,
    concertRoutes,
    seatMapRoutes,
    reservationRoutes,
    walletRoutes,
    paymentRoutes,
    adminRoutes,
    adminQueueRoutes,
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
