// `npm run bench -- waiting`: N users join and hold GET /queue/tokens/current/events open
// while the line moves (100 admitted every ~3 s by the server's own admission process).
import { fork, type ChildProcess } from 'node:child_process';
import pg from 'pg';
import { drive, percentile, startServer, type RunningServer } from './support.js';

export interface WaitingFigure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: number;
  readonly target?: string;
  readonly met?: boolean;
}

/** Streams one load-generator process holds (each process may open 20,000 files). */
const streamsPerClient = 6500;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const round = (value: number, digits = 0) => Number(value.toFixed(digits));

class ClientProcess {
  private readonly child: ChildProcess;
  private pending: ((reply: unknown) => void) | undefined;
  constructor() {
    this.child = fork('bench/waiting-clients.ts', [], {
      execArgv: ['--import', 'tsx'],
      stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    });
    this.child.on('message', (reply) => this.pending?.(reply));
  }
  request<T>(command: unknown): Promise<T> {
    return new Promise<T>((resolve) => {
      this.pending = resolve as (reply: unknown) => void;
      this.child.send(command as object);
    });
  }
  stop(): void {
    this.child.send({ type: 'close' });
  }
}

interface Batch {
  readonly admittedAt: number;
  /** Tokens admitted so far: FIFO, so the batch's highest queue number. */
  readonly admittedCount: number;
}

async function admissionBatches(db: pg.Client, since: number, until: number): Promise<Batch[]> {
  const { rows } = await db.query<{ admitted_at: Date; admitted_count: string }>(
    `SELECT admitted_at, max(queue_number) AS admitted_count FROM tokens
     WHERE admitted_at > $1 AND admitted_at < $2 GROUP BY admitted_at ORDER BY admitted_at`,
    [new Date(since), new Date(until)],
  );
  return rows.map((row) => ({
    admittedAt: row.admitted_at.getTime(),
    admittedCount: Number(row.admitted_count),
  }));
}

/** What the server's default metrics say about its event loop and GC (the lag resets per scrape). */
interface LoopHealth {
  readonly lagMaxMs: number;
  readonly lagP99Ms: number;
  /** Seconds spent in GC so far, by kind (major, minor, incremental, weakcb). */
  readonly gcSeconds: Record<string, number>;
}

/** Reads the server's metrics once; `value` gives one unlabelled series' value. */
async function scrape(baseUrl: string) {
  const text = await (await fetch(`${baseUrl}/metrics`)).text();
  const value = (name: string) =>
    Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(text)?.[1] ?? Number.NaN);
  return { text, value };
}

async function loopHealth(baseUrl: string): Promise<LoopHealth> {
  const { text, value } = await scrape(baseUrl);
  const gcSeconds: Record<string, number> = {};
  for (const match of text.matchAll(/^nodejs_gc_duration_seconds_sum\{kind="(\w+)"\} (\S+)$/gm))
    gcSeconds[match[1]!] = Number(match[2]);
  return {
    lagMaxMs: value('nodejs_eventloop_lag_max_seconds') * 1000,
    lagP99Ms: value('nodejs_eventloop_lag_p99_seconds') * 1000,
    gcSeconds,
  };
}

/** Event-loop lag over a phase (the scrape before it resets the histogram) and its GC. */
async function during<T>(baseUrl: string, phase: () => Promise<T>) {
  const before = await loopHealth(baseUrl);
  const result = await phase();
  const after = await loopHealth(baseUrl);
  const gcMs = Object.fromEntries(
    Object.entries(after.gcSeconds).map(([kind, seconds]) => [
      kind,
      Math.round((seconds - (before.gcSeconds[kind] ?? 0)) * 1000),
    ]),
  );
  return { result, lagMaxMs: after.lagMaxMs, lagP99Ms: after.lagP99Ms, gcMs };
}
export type PhaseHealth = Omit<Awaited<ReturnType<typeof during>>, 'result'>;

export interface WaitingRun {
  readonly connections: number;
  readonly waiting: number;
  readonly rssBeforeMb: number;
  readonly rssOpenMb: number;
  readonly rssPerConnectionKb: number;
  readonly openSeconds: number;
  readonly moves: number;
  readonly heard: number;
  readonly expected: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly lastHeardMaxMs: number;
  readonly cpuPerSecond: number;
  readonly cpuPerMoveMs: number;
  /** Messages per connection per second in the window: the mean, and the busiest stream. */
  readonly messagesPerSecond: number;
  readonly busiestPerSecond: number;
  /** Messages that came less than 900 ms after the same stream's previous one. */
  readonly closeTogether: number;
  readonly rssBeforeBytes: number;
  readonly joinBefore: { p50Ms: number; p99Ms: number; perSecond: number };
  readonly joinDuring: { p50Ms: number; p99Ms: number; perSecond: number };
  readonly healthBefore: PhaseHealth;
  readonly healthDuring: PhaseHealth;
  /** The server's own count: event-loop time in passes over the streams, and messages written. */
  readonly passBusyMsPerMove: number;
  readonly passMicrosPerMessage: number;
}

/** One run at `count` connections on a fresh database and server. */
export async function measureWaiting(
  databaseUrl: string,
  count: number,
  windowMs: number,
  aheadInLine = 1000,
): Promise<WaitingRun> {
  const server: RunningServer = await startServer(databaseUrl, {
    MAX_ACTIVE_TOKENS: '100',
    TOKEN_TTL_SECONDS: '3',
    ADMISSION_INTERVAL_MS: '500',
  });
  const db = new pg.Client({ connectionString: databaseUrl });
  db.on('error', () => undefined);
  await db.connect();
  const clients: ClientProcess[] = [];
  try {
    // A buffer of users ahead in line joins first, so the measured ones are still waiting
    // when their streams open; these joins also warm the server up.
    await drive(server.baseUrl, { concurrency: 16, total: aheadInLine }, (i) => ({
      method: 'POST',
      path: '/queue/tokens',
      body: { userId: `ahead-${i}` },
    }));
    const joined = await drive(
      server.baseUrl,
      { concurrency: 64, total: count, keepBodies: true, timeLimitMs: 600_000 },
      (i) => ({ method: 'POST', path: '/queue/tokens', body: { userId: `waiting-${i}` } }),
    );
    if ((joined.statuses[201] ?? 0) !== count)
      throw new Error(`not every user joined: ${JSON.stringify(joined.statuses)}`);
    // The baseline: the same joins as joinDuring below, on the warm server, no stream open.
    const { result: joinBefore, ...healthBefore } = await during(server.baseUrl, () =>
      drive(server.baseUrl, { concurrency: 16, total: aheadInLine }, (i) => ({
        method: 'POST',
        path: '/queue/tokens',
        body: { userId: `before-${i}` },
      })),
    );
    const tokens = joined.bodies.map(
      (entry) => (JSON.parse(entry.body) as { token: string }).token,
    );
    const rssBefore = server.rssBytes();
    await server.heapSnapshot();

    const port = Number(new URL(server.baseUrl).port);
    const chunks: string[][] = [];
    for (let i = 0; i < tokens.length; i += streamsPerClient)
      chunks.push(tokens.slice(i, i + streamsPerClient));
    const openStarted = Date.now();
    const firsts = await Promise.all(
      chunks.map((chunk) => {
        const client = new ClientProcess();
        clients.push(client);
        return client
          .request<{ first: (string | null)[] }>({ type: 'open', port, tokens: chunk })
          .then((reply) => reply.first);
      }),
    );
    const openSeconds = (Date.now() - openStarted) / 1000;
    await sleep(3000);
    const rssOpen = server.rssBytes();
    await server.heapSnapshot();

    const windowStart = Date.now();
    const cpuStart = server.cpuSeconds();
    const passesBefore = await scrape(server.baseUrl);
    await sleep(windowMs);
    const cpuSeconds = server.cpuSeconds() - cpuStart;
    const passesAfter = await scrape(server.baseUrl);
    const windowDelta = (name: string) => passesAfter.value(name) - passesBefore.value(name);
    const passBusySeconds = windowDelta('waiting_room_pass_busy_seconds');
    const messagesSent = windowDelta('waiting_room_messages_sent');
    const windowEnd = Date.now();
    const windowSeconds = (windowEnd - windowStart) / 1000;
    const rates = await Promise.all(
      clients.map((client) =>
        client.request<{ messages: number; most: number; closeTogether: number }>({
          type: 'rate',
          since: windowStart,
          until: windowEnd,
        }),
      ),
    );
    // Joins while the streams are open and the line moves, against joinBefore.
    const { result: joinDuring, ...healthDuring } = await during(server.baseUrl, () =>
      drive(server.baseUrl, { concurrency: 16, total: aheadInLine }, (i) => ({
        method: 'POST',
        path: '/queue/tokens',
        body: { userId: `during-${i}` },
      })),
    );

    const { rows } = await db.query<{ token_id: string; queue_number: string }>(
      'SELECT token_id, queue_number FROM tokens WHERE token_id = ANY($1)',
      [tokens],
    );
    const queueNumbers = new Map(rows.map((row) => [row.token_id, Number(row.queue_number)]));
    const batches = await admissionBatches(db, windowStart, windowStart + windowMs);
    const latencies: number[] = [];
    let expected = 0;
    let lastHeardMaxMs = 0;
    for (const batch of batches) {
      let last = 0;
      for (const [c, chunk] of chunks.entries()) {
        // Streams still waiting after this move, and the place it gave them.
        const positions = chunk.map((token, i) => {
          const queueNumber = queueNumbers.get(token)!;
          const waiting = firsts[c]![i]?.startsWith('h');
          return waiting && queueNumber > batch.admittedCount
            ? queueNumber - batch.admittedCount
            : null;
        });
        const { times } = await clients[c]!.request<{ times: (number | null)[] }>({
          type: 'heard',
          positions,
        });
        for (const time of times) {
          if (time === null) continue;
          expected++;
          if (time < 0) continue;
          latencies.push(time - batch.admittedAt);
          last = Math.max(last, time - batch.admittedAt);
        }
      }
      lastHeardMaxMs = Math.max(lastHeardMaxMs, last);
    }
    latencies.sort((a, b) => a - b);
    const waiting = firsts.flat().filter((id) => id?.startsWith('h')).length;
    return {
      connections: count,
      waiting,
      rssBeforeMb: rssBefore / 2 ** 20,
      rssOpenMb: rssOpen / 2 ** 20,
      rssPerConnectionKb: (rssOpen - rssBefore) / 1024 / count,
      openSeconds,
      moves: batches.length,
      heard: latencies.length,
      expected,
      p50Ms: percentile(latencies, 50),
      p99Ms: percentile(latencies, 99),
      lastHeardMaxMs,
      cpuPerSecond: cpuSeconds / windowSeconds,
      cpuPerMoveMs: batches.length > 0 ? (cpuSeconds * 1000) / batches.length : 0,
      messagesPerSecond:
        rates.reduce((sum, rate) => sum + rate.messages, 0) / count / windowSeconds,
      busiestPerSecond: Math.max(...rates.map((rate) => rate.most)) / windowSeconds,
      closeTogether: rates.reduce((sum, rate) => sum + rate.closeTogether, 0),
      rssBeforeBytes: rssBefore,
      joinBefore,
      joinDuring,
      healthBefore,
      healthDuring,
      passBusyMsPerMove: batches.length > 0 ? (passBusySeconds * 1000) / batches.length : 0,
      passMicrosPerMessage: messagesSent > 0 ? (passBusySeconds * 1e6) / messagesSent : 0,
    };
  } finally {
    for (const client of clients) client.stop();
    await db.end();
    await server.stop();
  }
}

export function waitingFigures(run: WaitingRun): { figures: WaitingFigure[]; notes: string[] } {
  const n = run.connections;
  return {
    figures: [
      {
        name: `service RSS per connection (${n} streams)`,
        value: round(run.rssPerConnectionKb, 1),
        unit: 'KB',
        target: '<= 10',
        met: run.rssPerConnectionKb <= 10,
      },
      { name: `service RSS with ${n} streams open`, value: round(run.rssOpenMb), unit: 'MB' },
      {
        name: `admission to last stream hearing it, worst move (${n})`,
        value: round(run.lastHeardMaxMs),
        unit: 'ms',
        target: '< 2000',
        met: run.moves > 0 && run.lastHeardMaxMs < 2000,
      },
      { name: `admission to hearing p50 (${n})`, value: round(run.p50Ms), unit: 'ms' },
      { name: `admission to hearing p99 (${n})`, value: round(run.p99Ms), unit: 'ms' },
      {
        name: `moves heard (${n})`,
        value: run.heard,
        unit: ` of ${run.expected}`,
        target: 'all',
        met: run.expected > 0 && run.heard === run.expected,
      },
      {
        name: `messages per connection per second, busiest stream (${n})`,
        value: round(run.busiestPerSecond, 2),
        unit: '/s',
        target: '<= 1',
        met: run.busiestPerSecond <= 1,
      },
      {
        name: `server CPU while the line moves (${n})`,
        value: round(run.cpuPerSecond, 3),
        unit: ' s/s',
      },
      // "Joins keep their figures": p99 within a fifth of, and the rate at least nine
      // tenths of, the same joins on the same warm server before any stream opened.
      {
        name: `join p99 with ${n} streams open and the line moving`,
        value: round(run.joinDuring.p99Ms, 1),
        unit: 'ms',
        baseline: round(run.joinBefore.p99Ms, 1),
        target: '<= 1.2 x baseline',
        met: run.joinDuring.p99Ms <= 1.2 * run.joinBefore.p99Ms,
      },
      {
        name: `joins per second with ${n} streams open and the line moving`,
        value: round(run.joinDuring.perSecond),
        unit: '/s',
        baseline: round(run.joinBefore.perSecond),
        target: '>= 0.9 x baseline',
        met: run.joinDuring.perSecond >= 0.9 * run.joinBefore.perSecond,
      },
    ],
    notes: [
      `${n} streams (${run.waiting} waiting at open) opened in ${round(run.openSeconds, 1)} s; RSS ${round(run.rssBeforeMb)} MB before, ${round(run.rssOpenMb)} MB with them open`,
      `${round(run.messagesPerSecond, 2)} messages per connection per second on average; ${run.closeTogether} came < 900 ms after the same stream's previous one (client-side timing)`,
      `${run.moves} moves of 100 admissions; server CPU ${round(run.cpuPerMoveMs)} ms per move (window incl. heartbeats and the admission process); of it, passes over the streams ${round(run.passBusyMsPerMove)} ms of event-loop time per move, ${round(run.passMicrosPerMessage, 1)} us per message written`,
      `join p50/p99 ${round(run.joinBefore.p50Ms, 1)}/${round(run.joinBefore.p99Ms, 1)} ms before the streams (warm server), ${round(run.joinDuring.p50Ms, 1)}/${round(run.joinDuring.p99Ms, 1)} ms with them open (16 connections, 1,000 joins each)`,
      `server event-loop lag while those joins ran: max ${round(run.healthBefore.lagMaxMs)} / p99 ${round(run.healthBefore.lagP99Ms)} ms before the streams, max ${round(run.healthDuring.lagMaxMs)} / p99 ${round(run.healthDuring.lagP99Ms)} ms with them; GC ms ${JSON.stringify(run.healthBefore.gcMs)} before, ${JSON.stringify(run.healthDuring.gcMs)} with them`,
    ],
  };
}
