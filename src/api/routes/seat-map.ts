import { auditTime, interval, merge, startWith } from 'rxjs';
import { z } from 'zod';
import { DomainError } from '../../commands/errors.js';
import { parsePosition, type Position } from '../../events/store/port.js';
import { seatChangesAfter, seatMapCheckpoint, seatMapOf } from '../../queries/seat-map.js';
import type { FastifyBaseLogger } from 'fastify';
import type { System } from '../../system.js';
import type { ApiContext, ZodApp } from '../context.js';
import { answeredHead, openEventStream, type EventStream } from '../event-stream.js';
import type { SseConnection } from '../sse.js';
import { SseChannel } from '../sse.js';
import { id, streamQuery } from '../schemas.js';

const position = z
  .string()
  .regex(/^-?\d{1,20}\/-?\d{1,20}$/, { error: 'must be a log position "commit/prepare"' })
  .refine((text) => parsePosition(text) !== undefined, {
    error: 'must be a log position whose parts fit in 64 bits',
  })
  .describe('a log position, as in `asOf` or an event `id`');
const seatStatus = z.enum(['empty', 'held', 'sold']);

/** A waiting stream looks for changes at least this often (a standby process sees no pushes). */
const pollMs = 1000;

export function seatMapRoutes(app: ZodApp, context: ApiContext): void {
  const { db } = context.system;

  app.get(
    '/concert-times/:concertTimeId/seat-map',
    {
      config: { access: 'pass' },
      schema: {
        tags: ['catalog'],
        operationId: 'getSeatMap',
        summary: 'Every seat of a concert time with its status, as of a log position',
        description:
          '`held` means held or being paid, `sold` means paid; it never says who. Follow the map with `/seat-map/events?after={asOf}`.',
        params: z.object({ concertTimeId: id }),
        response: {
          200: z.object({
            concertTimeId: z.string(),
            asOf: z.string().describe('the log position the map reflects'),
            seats: z.array(
              z.object({
                seatId: z.string(),
                seatNumber: z.number().int(),
                price: z.number().int(),
                status: seatStatus,
              }),
            ),
          }),
        },
      },
    },
    async (request) => {
      const map = await seatMapOf(db, request.params.concertTimeId);
      if (!map)
        throw new DomainError('NOT_FOUND', `no concert time ${request.params.concertTimeId}`);
      return map;
    },
  );

  seatMapEventsRoute(app, context);
}

function seatMapEventsRoute(app: ZodApp, { system, findToken }: ApiContext): void {
  const { db } = system;
  // Every seat-map stream of this process: one heartbeat timer, a bound per slow reader.
  const channel = new SseChannel<SseConnection>();
  app.addHook('preClose', async () => channel.close());

  app.get(
    '/concert-times/:concertTimeId/seat-map/events',
    {
      config: { access: 'pass', streamTicket: true },
      schema: {
        tags: ['catalog'],
        operationId: 'streamSeatMap',
        summary: 'Server-sent seat status changes after a log position',
        description:
          'Each change is `event: seat` with `data: {"seatId","status"}` and `id:` its log position; `Last-Event-ID` (set by EventSource on reconnect) wins over `after`. Without either, changes after the current map. Ends with `event: expired` when the caller\'s pass ends.',
        params: z.object({ concertTimeId: id }),
        querystring: streamQuery.extend({ after: position.optional() }),
        headers: z.looseObject({ 'last-event-id': position.optional() }),
        response: {
          200: z.string().describe('text/event-stream'),
        },
      },
    },
    async (request, reply) => {
      if (answeredHead(request, reply)) return reply;
      const { concertTimeId } = request.params;
      const resume = request.headers['last-event-id'] ?? request.query.after;
      const cursor: Position | undefined = resume
        ? parsePosition(resume)
        : await seatMapCheckpoint(db);
      if (!cursor || !(await seatMapOf(db, concertTimeId)))
        throw new DomainError('NOT_FOUND', `no concert time ${concertTimeId}`);
      const stream = openEventStream(channel, request, reply);
      const subscription = followSeatChanges(
        { ...system, findToken },
        { concertTimeId, cursor, tokenId: request.caller!.token, log: request.log },
        stream,
      );
      stream.onClose(() => subscription.unsubscribe());
    },
  );
}

/**
 * Sends the seat changes after `cursor` as they are projected (pushed by the runner,
 * polled at least every second), and ends the stream once the caller's pass is over.
 */
function followSeatChanges(
  deps: Pick<System, 'db' | 'clock' | 'runner'> & Pick<ApiContext, 'findToken'>,
  follow: { concertTimeId: string; cursor: Position; tokenId: string; log: FastifyBaseLogger },
  stream: EventStream,
) {
  const { db, clock, runner, findToken } = deps;
  const { concertTimeId, tokenId } = follow;
  let cursor = follow.cursor;
  const poll = async () => {
    for (;;) {
      const changes = await seatChangesAfter(db, concertTimeId, cursor);
      for (const change of changes) {
        stream.send({
          event: 'seat',
          id: change.position,
          data: { seatId: change.seatId, status: change.status },
        });
        cursor = parsePosition(change.position)!;
      }
      if (changes.length < 1000) break;
    }
    const token = await findToken(tokenId, clock());
    if (!token || token.status !== 'pass') {
      stream.send({ event: 'expired', data: { status: token?.status ?? 'expired' } });
      stream.end();
    }
  };
  // One poll at a time; a push during a poll asks for one more right after it.
  let polling = false;
  let again = false;
  const trigger = () => {
    if (polling) {
      again = true;
      return;
    }
    polling = true;
    poll()
      .catch((error: unknown) => {
        follow.log.error({ err: error }, 'seat map event stream failed');
        stream.end();
      })
      .finally(() => {
        polling = false;
        if (again) {
          again = false;
          trigger();
        }
      });
  };
  return merge(runner.changes.pipe(auditTime(50)), interval(pollMs))
    .pipe(startWith(undefined))
    .subscribe(trigger);
}
