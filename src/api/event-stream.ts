import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OutgoingHttpHeaders } from 'node:http';
import type { SseChannel } from './sse.js';
import { releaseHijackedReply, SseConnection } from './sse.js';

export interface EventStream {
  send(event: { event: string; data: unknown; id?: string }): void;
  end(): void;
  /** Runs once when the client goes away or the stream ends (or is dropped as too slow). */
  onClose(listener: () => void): void;
}

/** A stream that tells its owner when it leaves the channel. */
class ListenedConnection extends SseConnection {
  readonly listeners: (() => void)[] = [];
  override left(): void {
    for (const listener of this.listeners.splice(0)) listener();
  }
}

/**
 * A HEAD request for an event stream is answered with the stream's headers and no body
 * at once (a stream opened for it would never end). True when it was.
 */
export function answeredHead(request: FastifyRequest, reply: FastifyReply): boolean {
  if (request.method !== 'HEAD') return false;
  void reply
    .header('content-type', 'text/event-stream')
    .header('cache-control', 'no-cache')
    .send('');
  return true;
}

/**
 * Takes over the reply as one stream of `channel` (sse.ts): the reply's headers (helmet,
 * CORS) and the reconnect hint at once, a heartbeat while quiet, a bound on what a slow
 * reader may have queued, and the request's log line at the open.
 */
export function openEventStream(
  channel: SseChannel<SseConnection>,
  request: FastifyRequest,
  reply: FastifyReply,
): EventStream {
  reply.hijack();
  releaseHijackedReply(request, reply);
  const connection = new ListenedConnection(reply.raw);
  channel.open(connection, reply.getHeaders() as OutgoingHttpHeaders);
  const open = () => channel.connections.has(connection);
  return {
    send: ({ event, data, id }) => {
      if (open())
        channel.send(
          connection,
          `event: ${event}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`,
        );
    },
    end: () => {
      if (open()) channel.end(connection);
    },
    onClose: (listener) => {
      if (open()) connection.listeners.push(listener);
      else listener();
    },
  };
}
