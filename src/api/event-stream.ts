import type { FastifyReply } from 'fastify';

export interface EventStream {
  send(event: { event: string; data: unknown; id?: string }): void;
  end(): void;
  /** Runs once when the client goes away or the stream ends. */
  onClose(listener: () => void): void;
}

/**
 * Takes over the reply for `text/event-stream`: headers, a comment every 15 s so proxies
 * keep the connection, and clean-up when the client leaves.
 */
export function openEventStream(reply: FastifyReply): EventStream {
  reply.hijack();
  reply.raw.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-cache',
    connection: 'keep-alive',
    'x-accel-buffering': 'no',
  });
  const keepAlive = setInterval(() => reply.raw.write(': keep-alive\n\n'), 15_000);
  const listeners: (() => void)[] = [];
  let closed = false;
  const close = () => {
    if (closed) return;
    closed = true;
    clearInterval(keepAlive);
    for (const listener of listeners) listener();
  };
  reply.raw.on('close', close);
  return {
    send: ({ event, data, id }) => {
      if (closed) return;
      reply.raw.write(
        `event: ${event}\n${id ? `id: ${id}\n` : ''}data: ${JSON.stringify(data)}\n\n`,
      );
    },
    end: () => {
      close();
      reply.raw.end();
    },
    onClose: (listener) => listeners.push(listener),
  };
}
