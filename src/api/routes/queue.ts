import type { FastifyReply, FastifyRequest } from 'fastify';
import {
  auditTime,
  concatMap,
  distinctUntilChanged,
  from,
  interval,
  merge,
  startWith,
  takeWhile,
} from 'rxjs';
import { z } from 'zod';
import { issueToken } from '../../commands/issue-token.js';
import { admissionRate, type TokenView } from '../../queries/tokens.js';
import type { ApiContext, ZodApp } from '../context.js';
import { awaitReadModels } from '../read-your-writes.js';
import { streamTicketTtlSeconds } from '../stream-tickets.js';
import { isoTime, problem, streamQuery, streamSecurity, tokenView } from '../schemas.js';

const currentToken = tokenView.extend({ estimatedWaitSeconds: z.number().int().nonnegative() });

export function queueRoutes(app: ZodApp, { system, findToken, streamTickets }: ApiContext): void {
  const { db, clock, config } = system;

  // The admission rate changes slowly; one lookup a second serves every waiting poller.
  let rate = { value: 0, at: 0 };
  async function estimatedWaitSeconds(token: TokenView): Promise<number> {
    if (token.status !== 'hold') return 0;
    const now = clock();
    if (now.getTime() - rate.at > 1000)
      rate = { value: await admissionRate(db, now), at: now.getTime() };
    // With no admissions seen lately, assume slots free up only as passes run out.
    const perSecond =
      rate.value > 0 ? rate.value : config.MAX_ACTIVE_TOKENS / config.TOKEN_TTL_SECONDS;
    return Math.ceil(token.position / perSecond);
  }
  const withEstimate = async (token: TokenView) => ({
    ...token,
    estimatedWaitSeconds: await estimatedWaitSeconds(token),
  });

  app.post(
    '/queue/tokens',
    {
      config: { access: 'public' },
      schema: {
        tags: ['queue'],
        summary: 'Join the waiting queue, or get back your live token',
        body: z.strictObject({
          userId: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, {
            error: 'must be 1 to 64 characters of A-Z a-z 0-9 _ . -',
          }),
        }),
        response: { 200: tokenView, 201: tokenView, 400: problem },
      },
    },
    async (request, reply) => {
      const { token, created, written } = await issueToken(system, request.body.userId);
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
    },
  );

  app.get(
    '/queue/tokens/current',
    {
      config: { access: 'any-token' },
      schema: {
        tags: ['queue'],
        summary: 'Your token, place in line and estimated wait',
        response: { 200: currentToken, 401: problem },
      },
    },
    async (request) => withEstimate(request.caller!),
  );

  app.post(
    '/queue/tokens/current/stream-ticket',
    {
      config: { access: 'any-token' },
      schema: {
        tags: ['queue'],
        summary: 'A short-lived ticket that lets a browser EventSource open your event streams',
        description: `EventSource cannot send X-Queue-Token. Open \`.../events?ticket=...\` with this ticket instead, within ${streamTicketTtlSeconds} s; the stream then stays open. The ticket does not contain your queue token, opens only event streams, and can be fetched again whenever a stream has to be reopened.`,
        security: [{ queueToken: [] }],
        response: {
          200: z.object({ ticket: z.string(), expiresAt: isoTime }),
          401: problem,
        },
      },
    },
    async (request) => streamTickets.issue(request.caller!.token, clock()),
  );

  app.get(
    '/queue/tokens/current/events',
    {
      config: { access: 'any-token', streamTicket: true },
      schema: {
        tags: ['queue'],
        summary: 'Server-sent events with your token whenever it changes; a final `expired` event',
        security: streamSecurity,
        querystring: streamQuery,
      },
    },
    (request: FastifyRequest, reply: FastifyReply) => {
      const tokenId = request.caller!.token;
      reply.hijack();
      reply.raw.writeHead(200, {
        'content-type': 'text/event-stream',
        'cache-control': 'no-cache',
        connection: 'keep-alive',
        'x-accel-buffering': 'no',
      });
      // Projection progress pushes changes; a slow tick keeps the estimate fresh.
      const subscription = merge(system.runner.changes.pipe(auditTime(200)), interval(5000))
        .pipe(
          startWith(undefined),
          concatMap(() =>
            from(
              findToken(tokenId, clock()).then((token) =>
                token ? withEstimate(token) : undefined,
              ),
            ),
          ),
          distinctUntilChanged((a, b) => JSON.stringify(a) === JSON.stringify(b)),
          takeWhile((token) => token !== undefined && token.status !== 'expired', true),
        )
        .subscribe({
          next: (token) => {
            if (!token) return;
            reply.raw.write(
              `event: ${token.status === 'expired' ? 'expired' : 'token'}\ndata: ${JSON.stringify(token)}\n\n`,
            );
          },
          error: (error: unknown) => {
            request.log.error({ err: error }, 'token event stream failed');
            reply.raw.end();
          },
          complete: () => reply.raw.end(),
        });
      const keepAlive = setInterval(() => reply.raw.write(': keep-alive\n\n'), 15_000);
      reply.raw.on('close', () => {
        clearInterval(keepAlive);
        subscription.unsubscribe();
      });
    },
  );
}
