// A load-generator process for `npm run bench -- waiting`: holds thousands of raw
// text/event-stream connections and records when each heard each event id. It runs apart
// from the bench and the server because a process here may open at most 20,000 files.
import net from 'node:net';
import os from 'node:os';

interface Stream {
  readonly token: string;
  socket: net.Socket | undefined;
  tail: string;
  /** Arrival time (ms since the epoch) of each event id, the first time it came. */
  readonly heard: Map<string, number>;
  /** Arrival time of every message (the same id again: a new estimate only). */
  readonly arrivals: number[];
  ended: boolean;
}

type Command =
  | { type: 'open'; port: number; tokens: string[] }
  | { type: 'heard'; positions: (number | null)[] }
  | { type: 'rate'; since: number; until: number }
  | { type: 'close' };

const streams: Stream[] = [];

// The load generator shares this machine's two cores with the service under test; on
// its own machine it would take nothing from it. At a low priority it reads when the
// service, its database and the measured joins leave a core free: what it records (the
// time each stream heard a move) can then only be later than the truth, never earlier.
if (process.env.BENCH_CLIENT_NICE !== '0') os.setPriority(10);
const idPattern = /(?:^|\n)id: (\S+)\n/g;

function openOne(port: number, stream: Stream): Promise<void> {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    stream.socket = socket;
    socket.setEncoding('latin1');
    socket.on('connect', () =>
      socket.write(
        `GET /queue/tokens/current/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\nX-Queue-Token: ${stream.token}\r\n\r\n`,
      ),
    );
    socket.on('data', (chunk: string) => {
      const now = Date.now();
      const text = stream.tail + chunk;
      const cut = text.lastIndexOf('\n');
      stream.tail = text.slice(cut + 1);
      for (const match of text.slice(0, cut + 1).matchAll(idPattern)) {
        stream.arrivals.push(now);
        if (!stream.heard.has(match[1]!)) stream.heard.set(match[1]!, now);
        resolve();
      }
    });
    const finish = () => {
      stream.ended = true;
      resolve();
    };
    socket.on('end', finish);
    socket.on('close', finish);
    socket.on('error', finish);
  });
}

/**
 * When a stream first heard `position` or a newer place (a smaller one, or its pass): the
 * server coalesces moves that come close together, so one message may stand for several.
 */
function heardBy(stream: Stream, position: number): number {
  let first = -1;
  for (const [id, at] of stream.heard) {
    const place = id.startsWith('h') ? Number.parseInt(id.slice(1), 10) : 0;
    if (place <= position && (first < 0 || at < first)) first = at;
  }
  return first;
}

/**
 * Messages each stream got in [since, until): the total, the most one stream got, and how
 * many arrived less than 900 ms after the same stream's previous one (coalescing should
 * make that none; a late client can still read two in one chunk, so it is a hint).
 */
function messageRate(since: number, until: number) {
  let messages = 0;
  let most = 0;
  let closeTogether = 0;
  for (const stream of streams) {
    const inWindow = stream.arrivals.filter((at) => at >= since && at < until);
    messages += inWindow.length;
    most = Math.max(most, inWindow.length);
    for (let i = 1; i < inWindow.length; i++)
      if (inWindow[i]! - inWindow[i - 1]! < 900) closeTogether++;
  }
  return { messages, most, closeTogether };
}

process.on('message', (message: Command) => {
  void (async () => {
    if (message.type === 'open') {
      const batch = 250;
      for (let i = 0; i < message.tokens.length; i += batch) {
        const slice = message.tokens.slice(i, i + batch).map((token) => {
          const stream: Stream = {
            token,
            socket: undefined,
            tail: '',
            heard: new Map(),
            arrivals: [],
            ended: false,
          };
          streams.push(stream);
          return openOne(message.port, stream);
        });
        await Promise.all(slice);
      }
      process.send!({
        type: 'opened',
        first: streams.map((stream) => [...stream.heard.keys()][0] ?? null),
      });
    } else if (message.type === 'heard') {
      process.send!({
        type: 'heard',
        times: message.positions.map((position, i) =>
          position === null ? null : heardBy(streams[i]!, position),
        ),
        open: streams.filter((stream) => !stream.ended).length,
      });
    } else if (message.type === 'rate') {
      process.send!({ type: 'rate', ...messageRate(message.since, message.until) });
    } else {
      for (const stream of streams) stream.socket?.destroy();
      process.exit(0);
    }
  })();
});
