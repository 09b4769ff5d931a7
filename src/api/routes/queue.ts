import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import { filter, map } from 'rxjs';
import { Gauge } from 'prom-client';
import { z } from 'zod';
import { DomainError } from '../../commands/errors.js';
import { issueToken } from '../../commands/issue-token.js';
import { effectiveSettings, firstQueueSettings, readQueue } from '../../commands/queue-settings.js';
import { queueEventTypes } from '../../events/queue.js';
import { createWaitEstimator } from '../../queries/queue-estimate.js';
import type { System } from '../../system.js';
import { WaitingRoom } from '../waiting-room.js';
import { releaseHijackedReply } from '../sse.js';
import { answeredHead } from '../event-stream.js';
import type { ApiContext, ZodApp } from '../context.js';
import { subjectFormat } from '../plugins/identity.js';
import { awaitReadModels } from '../read-your-writes.js';
import { streamTicketTtlSeconds } from '../stream-tickets.js';
import { isoTime, streamQuery, tokenView } from '../schemas.js';

const currentToken = tokenView.extend({
  estimatedWaitSeconds: z
    .number()
    .int()
    .nonnegative()
    .nullable()
    .describe('null while pre-queued or while the queue is paused'),
});

/** Demo mode: the body names the user, so it is required and kept to simple ids. */
const demoJoin = z.strictObject({
  userId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, {
    error: 'must be 1 to 64 characters of A-Z a-z 0-9 _ . -',
  }),
});
/**
 * Identity mode: the JWT names the user; a body `userId` is only checked against it. The
 * body may be left out (Fastify validates a missing body as null).
 */
const jwtJoin = z
  .strictObject({
    userId: z
      .string()
      .regex(subjectFormat, { error: 'must be 1 to 255 printable characters' })
      .optional(),
  })
  .nullable();

const joinDescription = {
  jwt: 'The caller is the bearer JWT `sub`. `userId` may be left out; if sent it must equal `sub`. At most `JOIN_RATE_LIMIT_PER_MINUTE` joins per user per minute.',
  demo: 'Demo mode (no identity provider configured): the body `userId` is trusted, so anyone can act as any user. At most `JOIN_RATE_LIMIT_PER_MINUTE` joins per user per minute.',
};

export function queueRoutes(app: ZodApp, context: ApiContext): void {
  const { db, clock } = context.system;

  // The line's snapshot changes slowly; one read a second serves every waiting poller.
  const estimatedWaitSeconds = waitEstimator(context.system);
  // Every waiting stream of this process; positions are computed once per change for all.
  const waitingRoom = new WaitingRoom({
    db,
    clock,
    line: estimatedWaitSeconds.line,
    moved: context.system.runner.applied.pipe(
      filter(
        (batch) =>
          batch.projection === 'tokens' &&
          batch.events.some(
            (event) => event.type === 'TokenAdmitted' || event.type === 'TokenExpired',
          ),
      ),
    ),
    log: (error, message) => app.log.error({ err: error }, message),
  });
  app.addHook('preClose', async () => waitingRoom.close());
  const gauges: [name: string, help: string, value: () => number][] = [
    [
      'waiting_room_streams',
      'Open waiting-room event streams of this process',
      () => waitingRoom.size,
    ],
    [
      'waiting_room_dropped_slow_readers',
      'Waiting-room streams this process ended because their reader fell too far behind',
      () => waitingRoom.droppedSlowReaders,
    ],
    [
      'waiting_room_messages_sent',
      'Messages (and heartbeats) this process wrote to waiting-room streams',
      () => waitingRoom.messagesSent,
    ],
    [
      'waiting_room_pass_busy_seconds',
      'Event-loop time this process spent in passes over its waiting-room streams',
      () => waitingRoom.passBusySeconds,
    ],
  ];
  for (const [name, help, value] of gauges)
    new Gauge({
      name,
      help,
      registers: [context.metrics.registry],
      collect() {
        this.set(value());
      },
    });

  joinRoute(app, context);

  app.get(
    '/queue/tokens/current',
    {
      config: { access: 'any-token' },
      schema: {
        tags: ['queue'],
        operationId: 'getCurrentToken',
        summary: 'Your token, place in line and estimated wait',
        response: { 200: currentToken },
      },
    },
    async (request) => ({
      ...request.caller!,
      estimatedWaitSeconds: await estimatedWaitSeconds(request.caller!),
    }),
  );

  streamTicketRoute(app, context);

  app.get(
    '/queue/tokens/current/events',
    {
      config: { access: 'any-token', streamTicket: true },
      schema: {
        tags: ['queue'],
        operationId: 'streamCurrentToken',
        summary: 'Server-sent events with your token whenever it changes; a final `expired` event',
        querystring: streamQuery,
      },
    },
    async (request, reply) => {
      if (answeredHead(request, reply)) return reply;
      reply.hijack();
      releaseHijackedReply(request, reply);
      const lastEventId = request.headers['last-event-id'];
      await waitingRoom.open(reply.raw, request.caller!, {
        lastEventId: typeof lastEventId === 'string' ? lastEventId : undefined,
        // Helmet's and CORS headers were set on the reply before the hijack: keep them.
        headers: reply.getHeaders() as OutgoingHttpHeaders,
      });
    },
  );
}

function waitEstimator(system: System) {
  const { db, clock, config } = system;
  return createWaitEstimator({
    db,
    clock,
    readSettings: async () =>
      effectiveSettings(await readQueue(system.store), firstQueueSettings(config)),
    ttlSeconds: config.TOKEN_TTL_SECONDS,
    admissionIntervalMs: config.ADMISSION_INTERVAL_MS,
    queueChanged: system.runner.applied.pipe(
      filter((batch) =>
        batch.events.some((event) => queueEventTypes.includes(event.type as never)),
      ),
    ),
    lineMoved: system.runner.applied.pipe(
      map((batch) => batch.events.map((event) => event.type)),
      filter((types) => types.includes('TokenAdmitted') || types.includes('TokenExpired')),
      map((types) => ({ admitted: types.includes('TokenAdmitted') })),
    ),
  });
}

function joinRoute(app: ZodApp, { system, findToken, countJoin, identityMode }: ApiContext): void {
  const { clock, config } = system;
  /** Counts the join toward the user's limit, then issues or returns their live token. */
  async function join(userId: string, reply: FastifyReply) {
    await countJoin(userId);
    const { token, created, written } = await issueToken(system, userId);
    await awaitReadModels(system.runner, reply, written, config.READ_YOUR_WRITES_TIMEOUT_MS);
    const view = await findToken(token.tokenId, clock());
    return reply.code(created ? 201 : 200).send(
      view ?? {
        token: token.tokenId,
        userId: token.userId,
        status: token.status,
        position: 0,
        createdAt: token.createdAt,
        updatedAt: token.updatedAt,
        ...(token.status === 'pass' ? { expiresAt: token.expiresAt } : {}),
      },
    );
  }
  const joinSchema = {
    tags: ['queue'],
    operationId: 'joinQueue',
    summary: 'Join the waiting queue, or get back your live token',
    description: joinDescription[identityMode],
    response: {
      200: tokenView,
      201: tokenView,
    },
  };

  if (identityMode === 'jwt') {
    app.post(
      '/queue/tokens',
      { config: { access: 'user' }, schema: { ...joinSchema, body: jwtJoin } },
      async (request, reply) => {
        // access 'user' has verified the bearer JWT before the body was read.
        const userId = request.authenticatedUserId!;
        const named = request.body?.userId;
        if (named !== undefined && named !== userId)
          throw new DomainError('USER_MISMATCH', 'body userId is not the authenticated user');
        return join(userId, reply);
      },
    );
  } else {
    app.post(
      '/queue/tokens',
      { config: { access: 'user' }, schema: { ...joinSchema, body: demoJoin } },
      async (request, reply) => join(request.body.userId, reply),
    );
  }
}

function streamTicketRoute(app: ZodApp, { system, streamTickets }: ApiContext): void {
  const { clock } = system;
  app.post(
    '/queue/tokens/current/stream-ticket',
    {
      config: { access: 'any-token' },
      schema: {
        tags: ['queue'],
        operationId: 'issueStreamTicket',
        summary: 'A short-lived ticket that lets a browser EventSource open your event streams',
        description: `EventSource cannot send X-Queue-Token. Open \`.../events?ticket=...\` with this ticket instead, within ${streamTicketTtlSeconds} s; the stream then stays open. The ticket does not contain your queue token, opens only event streams, and can be fetched again whenever a stream has to be reopened.`,
        response: {
          200: z.object({ ticket: z.string(), expiresAt: isoTime }),
        },
      },
    },
    async (request) => streamTickets.issue(request.caller!.token, clock()),
  );
}
