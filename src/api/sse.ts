import type { FastifyReply, FastifyRequest } from 'fastify';
import { logStreamOpened } from './request-log.js';
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';

export interface SseOptions {
  /** A comment line this often on an otherwise quiet stream keeps proxies from cutting it. */
  readonly heartbeatMs: number;
  /** The `retry:` reconnect hint; each stream gets a value between this and twice this. */
  readonly retryMs: number;
  /** A reader this far behind (bytes queued in the process) is dropped. */
  readonly maxBufferedBytes: number;
}

export const defaultSseOptions: SseOptions = {
  heartbeatMs: 15_000,
  retryMs: 3000,
  maxBufferedBytes: 32 * 1024,
};

const connectionOf = Symbol('sse connection');
type TaggedResponse = ServerResponse & { [connectionOf]?: SseConnection };

/** One open stream. Subclasses add what they push; no closures or timers per stream. */
export class SseConnection {
  /** When anything (message or heartbeat) was last written. */
  lastWriteAt = 0;
  channel: SseChannel<SseConnection> | undefined;
  constructor(readonly response: ServerResponse) {}
  /** Called once when the stream leaves its channel (closed, ended or dropped). */
  left(): void {}
}

/**
 * After the head is on the wire, Node still keeps, for the response's life, the head's
 * text (`_header`, about 800 bytes) and the map of headers set one by one (helmet's: about
 * 1.4 KB with their values). Node then reads the text only as a flag (`headersSent`, "may
 * the head still change") and the map only for getHeader(): a one-character stand-in
 * keeps the flag, and the map is dropped. Both are Node internals, present in Node 20 and
 * 24; where they are absent this does nothing.
 */
function forgetSentHead(response: ServerResponse): void {
  const sent = response as unknown as Record<string | symbol, unknown>;
  if (sent._headerSent !== true) return;
  if (typeof sent._header === 'string') sent._header = ' ';
  const outHeaders = Object.getOwnPropertySymbols(response).find(
    (symbol) => symbol.description === 'kOutHeaders',
  );
  if (outHeaders) sent[outHeaders] = null;
}

/**
 * A hijacked stream lives for minutes. Fastify's own 'finish' and 'error' listeners on
 * it run the onResponse hooks at its end, and so keep its request, reply and child logger
 * (about 0.5 KB) for its whole life: they are removed, and the request's one log line is
 * written now, at the open. The stream is then not observed in
 * http_request_duration_seconds, where minutes would drown the request latencies anyway;
 * `waiting_room_streams` counts the open ones.
 */
export function releaseHijackedReply(request: FastifyRequest, reply: FastifyReply): void {
  for (const event of ['finish', 'error'] as const)
    for (const listener of reply.raw.listeners(event))
      if (listener.name === 'onResFinished') reply.raw.removeListener(event, listener as never);
  logStreamOpened(request);
}

/** Shared by every stream: `this` is the response whose connection closed. */
function onResponseClose(this: TaggedResponse): void {
  const connection = this[connectionOf];
  connection?.channel?.forget(connection);
}

/**
 * A set of open server-sent-event streams with one heartbeat timer for all of them and a
 * bound on what each may have queued: a slow reader is dropped with a clean end of the
 * response (it reconnects and resumes with Last-Event-ID) instead of buffering without limit.
 */
export class SseChannel<C extends SseConnection> {
  readonly connections = new Set<C>();
  /** Dropped streams whose end has not flushed yet; destroyed on the next heartbeat. */
  private readonly closing = new Set<ServerResponse>();
  private heartbeat: NodeJS.Timeout | undefined;
  droppedSlowReaders = 0;
  /** Chunks written by send() (messages and heartbeats). */
  sent = 0;

  constructor(
    private readonly options: SseOptions = defaultSseOptions,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * Sends the headers (`headers`, e.g. the security and CORS headers of the reply, with
   * the stream's own) and the reconnect hint; the stream then belongs to the channel.
   * Given to writeHead, not set one by one, so the response keeps no map of them.
   */
  open(connection: C, headers: OutgoingHttpHeaders = {}): void {
    const response = connection.response as TaggedResponse;
    response.writeHead(200, {
      ...headers,
      'content-type': 'text/event-stream',
      'cache-control': 'no-cache',
      connection: 'keep-alive',
      'x-accel-buffering': 'no',
    });
    // Jittered, so that the streams of a restarted process do not all come back at once.
    const retry = this.options.retryMs + Math.floor(Math.random() * this.options.retryMs);
    response.write(`retry: ${retry}\n\n`);
    forgetSentHead(response);
    connection.lastWriteAt = this.now();
    connection.channel = this;
    response[connectionOf] = connection;
    response.on('close', onResponseClose);
    this.connections.add(connection);
    // A client that left while the route was still working (authenticating, looking its
    // token up) closed the response before the listener above was there to hear it.
    if (!response.socket || response.socket.destroyed) {
      this.forget(connection);
      return;
    }
    if (!this.heartbeat) {
      this.heartbeat = setInterval(() => this.beat(), this.options.heartbeatMs);
      this.heartbeat.unref();
    }
  }

  /** Writes one chunk; false when the reader was too far behind and has been dropped. */
  send(connection: C, chunk: string): boolean {
    const response = connection.response;
    // What the response and its socket have queued: the socket's own buffer counts too.
    if (response.writableLength > this.options.maxBufferedBytes) {
      this.drop(connection);
      return false;
    }
    const socket = response.socket;
    if (socket && response.chunkedEncoding && response.headersSent && !response.writableEnded) {
      // One framed chunk, one socket write: the response's own write corks the socket,
      // queues four pieces and uncorks on the next tick, which costs more than the
      // message itself when a move writes to every stream. The framing is the same.
      socket.write(`${Buffer.byteLength(chunk).toString(16)}\r\n${chunk}\r\n`);
    } else response.write(chunk);
    this.sent++;
    connection.lastWriteAt = this.now();
    return true;
  }

  /** Ends one stream, after an optional last chunk. */
  end(connection: C, chunk?: string): void {
    this.forget(connection);
    connection.response.end(chunk);
  }

  /** A slow reader: stop writing, end the response behind what it already has queued. */
  drop(connection: C): void {
    this.droppedSlowReaders++;
    this.forget(connection);
    connection.response.end();
    if (!connection.response.writableFinished) this.closing.add(connection.response);
  }

  forget(connection: SseConnection): void {
    if (!this.connections.delete(connection as C)) return;
    connection.response.off('close', onResponseClose);
    delete (connection.response as TaggedResponse)[connectionOf];
    if (this.connections.size === 0 && this.closing.size === 0) this.stopHeartbeat();
    connection.left();
  }

  private beat(): void {
    for (const response of this.closing) if (!response.writableFinished) response.destroy();
    this.closing.clear();
    const quietSince = this.now() - this.options.heartbeatMs / 2;
    for (const connection of this.connections)
      if (connection.lastWriteAt <= quietSince) this.send(connection, ':\n\n');
    if (this.connections.size === 0) this.stopHeartbeat();
  }

  private stopHeartbeat(): void {
    clearInterval(this.heartbeat);
    this.heartbeat = undefined;
  }

  /** Ends every stream (the server is stopping). */
  close(): void {
    for (const connection of [...this.connections]) this.end(connection);
    for (const response of this.closing) response.destroy();
    this.closing.clear();
    this.stopHeartbeat();
  }
}
