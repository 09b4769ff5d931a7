import http from 'node:http';

export interface SseEvent {
  readonly event: string;
  readonly id: string | undefined;
  readonly data: string;
}

/**
 * A raw server-sent-events client, as a browser's EventSource parses the stream: `event:`,
 * `id:`, `data:` and `retry:` fields, comments ignored. Tests await the events they expect.
 */
export interface SseClient {
  readonly status: number;
  readonly headers: http.IncomingHttpHeaders;
  readonly events: SseEvent[];
  /** The last `retry:` the server sent. */
  readonly retryMs: number | undefined;
  readonly comments: number;
  /** Resolves with the first event (already received or still to come) that matches. */
  waitFor(match: (event: SseEvent) => boolean, what?: string): Promise<SseEvent>;
  /** Resolves when the server ends the response or the connection closes. */
  readonly ended: Promise<void>;
  /** The body, for a refused (non-200) stream. */
  body(): Promise<string>;
  close(): void;
}

export function openSse(url: string, headers: Record<string, string> = {}): Promise<SseClient> {
  return new Promise((resolve, reject) => {
    const request = http.get(url, { headers: { accept: 'text/event-stream', ...headers } });
    request.on('error', reject);
    request.on('response', (response) => {
      const events: SseEvent[] = [];
      const waiters: { match: (event: SseEvent) => boolean; done: (event: SseEvent) => void }[] =
        [];
      let buffer = '';
      let raw = '';
      let retryMs: number | undefined;
      let comments = 0;
      const ended = new Promise<void>((done) => {
        response.on('end', done);
        response.on('close', done);
        response.on('error', () => done());
      });
      response.setEncoding('utf8');
      response.on('data', (chunk: string) => {
        raw += chunk;
        buffer += chunk;
        let boundary: number;
        while ((boundary = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, boundary);
          buffer = buffer.slice(boundary + 2);
          const fields = {
            event: 'message',
            id: undefined as string | undefined,
            data: [] as string[],
          };
          let hasData = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) {
              comments++;
              continue;
            }
            const colon = line.indexOf(':');
            const name = colon < 0 ? line : line.slice(0, colon);
            const value = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
            if (name === 'event') fields.event = value;
            else if (name === 'id') fields.id = value;
            else if (name === 'retry') retryMs = Number(value);
            else if (name === 'data') {
              fields.data.push(value);
              hasData = true;
            }
          }
          if (!hasData) continue;
          const event = { event: fields.event, id: fields.id, data: fields.data.join('\n') };
          events.push(event);
          for (const waiter of [...waiters]) {
            if (waiter.match(event)) {
              waiters.splice(waiters.indexOf(waiter), 1);
              waiter.done(event);
            }
          }
        }
      });
      resolve({
        status: response.statusCode ?? 0,
        headers: response.headers,
        events,
        get retryMs() {
          return retryMs;
        },
        get comments() {
          return comments;
        },
        waitFor: (match, what = 'an event') =>
          new Promise<SseEvent>((done, fail) => {
            const seen = events.find(match);
            if (seen) return done(seen);
            waiters.push({ match, done });
            void ended.then(() => {
              const index = waiters.findIndex((waiter) => waiter.match === match);
              if (index >= 0) fail(new Error(`the stream ended before ${what}`));
            });
          }),
        ended,
        body: async () => {
          await ended;
          return raw;
        },
        close: () => request.destroy(),
      });
    });
  });
}
