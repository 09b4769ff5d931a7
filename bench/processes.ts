import { admittedTokens, check, round, seedSeats, size } from './fixtures.js';
import type { BenchContext, Figure, ScenarioResult } from './scenarios.js';
import { transactionCounter } from './transactions.js';
import { drive, percentile, startServer, type HttpCall, type RunningServer } from './support.js';

interface Spread {
  readonly requests: number;
  readonly perSecond: number;
  readonly p99Ms: number;
  readonly statuses: Record<number, number>;
}

/**
 * `total` requests at `connections` connections in all, split evenly across `servers`
 * (each connection talks to one process, as behind a load balancer); one wall clock.
 */
async function spread(
  servers: readonly RunningServer[],
  connections: number,
  total: number,
  call: (index: number) => HttpCall,
): Promise<Spread> {
  const share = Math.ceil(total / servers.length);
  const started = performance.now();
  const results = await Promise.all(
    servers.map((server, s) =>
      drive(
        server.baseUrl,
        {
          concurrency: connections / servers.length,
          total: Math.min(share, total - s * share),
          timeLimitMs: 300_000,
        },
        (i) => call(s * share + i),
      ),
    ),
  );
  const seconds = (performance.now() - started) / 1000;
  const statuses: Record<number, number> = {};
  for (const result of results)
    for (const [status, count] of Object.entries(result.statuses))
      statuses[Number(status)] = (statuses[Number(status)] ?? 0) + count;
  const requests = results.reduce((sum, result) => sum + result.requests, 0);
  // Merged p99: the worst per-process p99 bounds it from above; good enough to compare.
  const p99Ms = percentile(
    results.map((result) => result.p99Ms).sort((a, b) => a - b),
    100,
  );
  return { requests, perSecond: requests / seconds, p99Ms, statuses };
}

/**
 * Holds and joins through one API process, then through two on the same database (the
 * second a projection standby that serves commands too), the same connection count in
 * all. On this 2-core machine both processes share the cores with PostgreSQL and the load
 * generator: the figure says what a second process adds here, not on separate hosts.
 */
export async function processes(context: BenchContext): Promise<ScenarioResult> {
  const connections = size(context, 64, 8);
  const holds = size(context, 8000, 200);
  const joins = size(context, 8000, 200);
  const warm = size(context, 500, 20);
  const seatsPerDate = size(context, 1000, 100);
  const databaseUrl = await context.createDatabase();
  const env = { MAX_ACTIVE_TOKENS: String(connections), ADMISSION_INTERVAL_MS: '50' };
  const dates = Math.ceil((2 * (holds + warm)) / seatsPerDate);
  const concert = await seedSeats(databaseUrl, dates, seatsPerDate, env);
  const seats = concert.dates.flatMap((date) =>
    date.seats.map((seat) => ({ concertTimeId: date.concertTimeId, seatId: seat.seatId })),
  );
  const leader = await startServer(databaseUrl, env);
  const servers = [leader];
  try {
    const tokens = await admittedTokens(
      leader,
      Array.from({ length: connections }, (_, i) => `holder-${i}`),
    );
    let nextSeat = 0;
    let nextUser = 0;
    const hold = (): HttpCall => ({
      method: 'POST',
      path: '/reservations',
      headers: { 'x-queue-token': tokens[nextSeat % connections]! },
      body: seats[nextSeat++],
    });
    const join = (): HttpCall => ({
      method: 'POST',
      path: '/queue/tokens',
      body: { userId: `joiner-${nextUser++}` },
    });
    // Each measured run with its PostgreSQL transactions per operation (every process's).
    const measured = async (total: number, call: () => HttpCall) => {
      const xacts = await transactionCounter(databaseUrl, context.smoke);
      const result = await spread(servers, connections, total, call);
      return { ...result, transactions: await xacts.perOperation(result.requests) };
    };
    const phase = async (label: string) => {
      await spread(servers, connections, warm, hold);
      const held = await measured(holds, hold);
      check(
        held.statuses[201] === held.requests,
        `${label}: every hold 201 (${JSON.stringify(held.statuses)})`,
      );
      const joined = await measured(joins, join);
      check(
        joined.statuses[201] === joined.requests,
        `${label}: every join 201 (${JSON.stringify(joined.statuses)})`,
      );
      return { held, joined };
    };
    const one = await phase('one process');
    servers.push(await startServer(databaseUrl, env));
    const two = await phase('two processes');
    const figures: Figure[] = [];
    for (const [what, each, a, b] of [
      ['holds', 'hold', one.held, two.held],
      ['joins', 'join', one.joined, two.joined],
    ] as const) {
      figures.push(
        {
          name: `${what}/s, one API process (${connections} connections)`,
          value: round(a.perSecond),
          unit: '/s',
        },
        {
          name: `${what}/s, two API processes on one database (${connections} connections in all) vs one`,
          value: round(b.perSecond),
          unit: '/s',
          baseline: round(a.perSecond),
        },
        {
          name: `${what} p99, one process / two processes`,
          value: round(a.p99Ms, 1),
          unit: 'ms',
          baseline: round(b.p99Ms, 1),
        },
        {
          name: `PostgreSQL transactions per ${each}, one process / two processes`,
          value: a.transactions,
          unit: '',
          baseline: b.transactions,
        },
      );
    }
    return {
      scenario: 'processes',
      figures,
      notes: [
        `${holds} holds of distinct seats and ${joins} new users' joins per phase, after ${warm} warm-up holds; API processes, PostgreSQL and the load generator share this machine's cores`,
      ],
    };
  } finally {
    for (const server of servers) await server.stop();
  }
}
