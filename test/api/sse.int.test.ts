import http from 'node:http';
import net from 'node:net';
import { setImmediate as turn } from 'node:timers/promises';
import { SseChannel, SseConnection } from '../../src/api/sse.js';
import { openSse } from '../support/sse.js';

/** A real HTTP server on loopback whose every request becomes a stream of one channel. */
async function serve(channel: SseChannel<SseConnection>) {
  const opened: SseConnection[] = [];
  const server = http.createServer((_request, response) => {
    const connection = new SseConnection(response);
    channel.open(connection);
    opened.push(connection);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    port,
    opened,
    close: () => {
      channel.close();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function until(check: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 2000 && !check(); i++) await new Promise((r) => setTimeout(r, 10));
  if (!check()) throw new Error(`never saw ${what}`);
}

it('sends a jittered retry hint, then heartbeats while the stream is quiet', async () => {
  const channel = new SseChannel({ heartbeatMs: 50, retryMs: 1000, maxBufferedBytes: 65_536 });
  const server = await serve(channel);
  try {
    const stream = await openSse(server.url);
    await until(() => stream.retryMs !== undefined, 'the retry hint');
    expect(stream.retryMs).toBeGreaterThanOrEqual(1000);
    expect(stream.retryMs).toBeLessThan(2000);
    await until(() => stream.comments >= 2, 'two heartbeats');
    stream.close();
    await until(() => channel.connections.size === 0, 'the closed stream leaving the channel');
  } finally {
    await server.close();
  }
});

it('drops a reader that stopped reading with a clean end of the response, and keeps serving one that reads', async () => {
  const limit = 64 * 1024;
  const channel = new SseChannel({ heartbeatMs: 60_000, retryMs: 1000, maxBufferedBytes: limit });
  const server = await serve(channel);
  try {
    const reader = await openSse(server.url);
    let readerBytes = 0;
    // A slow reader: sends its request, then reads nothing.
    const slow = net.connect(server.port, '127.0.0.1');
    slow.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    slow.pause();
    await until(() => server.opened.length === 2, 'both streams open');
    const [fast, lagging] = server.opened as [SseConnection, SseConnection];

    const chunk = `data: ${'x'.repeat(16_000)}\n\n`;
    let largestQueued = 0;
    for (let i = 0; i < 20_000 && channel.connections.has(lagging); i++) {
      for (const connection of [...channel.connections]) {
        channel.send(connection, chunk);
        largestQueued = Math.max(largestQueued, connection.response.writableLength);
      }
      readerBytes += chunk.length;
      await turn();
    }
    expect(channel.connections.has(lagging)).toBe(false);
    expect(channel.droppedSlowReaders).toBe(1);
    // Bounded: what a stream may queue is the limit plus the one chunk that crossed it.
    expect(largestQueued).toBeLessThanOrEqual(limit + chunk.length);
    expect(channel.connections.has(fast)).toBe(true);
    expect(readerBytes).toBeGreaterThan(limit);

    // The slow reader, reading again, gets what was queued and then a proper end of the
    // chunked response (the 0-length chunk), not a reset: an EventSource just reconnects.
    let received = '';
    slow.setEncoding('latin1');
    slow.on('data', (data: string) => (received = (received + data).slice(-64)));
    slow.resume();
    await new Promise((resolve) => slow.once('end', resolve));
    expect(received.endsWith('0\r\n\r\n')).toBe(true);
    slow.destroy();
    reader.close();
  } finally {
    await server.close();
  }
});

it('sends headers set before the open in the head, then keeps no copy of the sent head', async () => {
  const channel = new SseChannel({ heartbeatMs: 60_000, retryMs: 1000, maxBufferedBytes: 65_536 });
  const opened: http.ServerResponse[] = [];
  const server = http.createServer((_request, response) => {
    response.setHeader('x-content-type-options', 'nosniff');
    channel.open(new SseConnection(response), { 'x-extra': 'yes' });
    opened.push(response);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  try {
    const { port } = server.address() as net.AddressInfo;
    const stream = await openSse(`http://127.0.0.1:${port}/`);
    expect(stream.headers['x-content-type-options']).toBe('nosniff');
    expect(stream.headers['x-extra']).toBe('yes');
    expect(stream.headers['content-type']).toBe('text/event-stream');
    const response = opened[0]!;
    expect(response.headersSent).toBe(true);
    expect(response.getHeaderNames()).toEqual([]);
    expect((response as unknown as { _header: string })._header.length).toBeLessThan(2);
    // Still a working stream: it ends cleanly.
    channel.end(channel.connections.values().next().value!, 'event: bye\ndata: {}\n\n');
    await stream.waitFor((event) => event.event === 'bye');
    await stream.ended;
  } finally {
    channel.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

it('does not keep a stream whose client left before the channel took it over', async () => {
  const channel = new SseChannel({ heartbeatMs: 60_000, retryMs: 1000, maxBufferedBytes: 65_536 });
  let handedOver = false;
  let arrived = false;
  // The route's own work (authentication, a lookup) takes a while before the handover.
  const server = http.createServer((_request, response) => {
    arrived = true;
    response.socket!.once('close', () => {
      channel.open(new SseConnection(response));
      handedOver = true;
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  try {
    const client = net.connect(port, '127.0.0.1');
    client.write('GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n');
    // The client leaves only once the route has the request (a fixed wait raced a busy CI).
    await until(() => arrived, 'the request');
    client.destroy();
    await until(() => handedOver, 'the handover');
    await turn();
    expect(channel.connections.size).toBe(0);
  } finally {
    channel.close();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});
