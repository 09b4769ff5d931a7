import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { admittedTokens, check, round, seedSeats, size } from './fixtures.js';
import type { BenchContext, Figure, ScenarioResult } from './scenarios.js';
import {
  drive,
  freePort,
  processCpuSeconds,
  startServer,
  until,
  type LoadResult,
} from './support.js';
import { transactionCounter } from './transactions.js';

const connections = 64;

/** A bare Fastify route returning `body`, in its own process: the queries' baseline. */
export async function bareServer(body: string) {
  const port = await freePort();
  const bodyFile = path.join(tmpdir(), `bench-body-${randomUUID()}.json`);
  writeFileSync(bodyFile, body);
  const child = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-server.ts'], {
    env: { ...process.env, BODY_FILE: bodyFile, PORT: String(port) },
    stdio: 'inherit',
  });
  const baseUrl = `http://127.0.0.1:${port}`;
  await until(
    () =>
      fetch(`${baseUrl}/constant`).then(
        (r) => r.ok,
        () => false,
      ),
    30_000,
    'the bare server',
  );
  return {
    baseUrl,
    cpuSeconds: () => processCpuSeconds(child.pid!),
    stop: () => child.kill('SIGTERM'),
  };
}

/**
 * Warm-up, then the measured run of GET `path` at 64 connections, with the serving
 * process's CPU per request over the measured run.
 */
async function measure(
  server: { baseUrl: string; cpuSeconds(): number },
  total: number,
  path: string,
  headers: (i: number) => Record<string, string>,
): Promise<LoadResult & { cpuMicros: number }> {
  const call = (i: number) => ({ method: 'GET' as const, path, headers: headers(i) });
  await drive(server.baseUrl, { concurrency: connections, total: total / 10 }, call);
  const cpuBefore = server.cpuSeconds();
  const result = await drive(server.baseUrl, { concurrency: connections, total }, call);
  const cpuMicros = ((server.cpuSeconds() - cpuBefore) * 1e6) / result.requests;
  check(
    (result.statuses[200] ?? 0) === result.requests,
    `every query answered 200 (${JSON.stringify(result.statuses)})`,
  );
  return { ...result, cpuMicros };
}

const cpuFigure = (name: string, result: { cpuMicros: number }): Figure => ({
  name,
  value: round(result.cpuMicros),
  unit: ' us',
});

const against = (name: string, result: LoadResult, bare: LoadResult): Figure => ({
  name,
  value: round(result.perSecond),
  unit: '/s',
  baseline: round(bare.perSecond),
  target: '>= 0.8 x bare Fastify',
  met: result.perSecond >= 0.8 * bare.perSecond,
});

/**
 * Seats of a 500-seat time (half held) and a concert's dates, on the projection leader
 * and on a second API process on the same database (a standby: the leader lock is taken),
 * against a bare Fastify route returning the same bytes.
 */
export async function queries(context: BenchContext): Promise<ScenarioResult> {
  const seatsPerDate = size(context, 500, 50);
  // BENCH_QUERIES_TOTAL=5000 measures fewer requests per run (the default is 20,000).
  const total = Number(process.env.BENCH_QUERIES_TOTAL ?? 0) || size(context, 20_000, 200);
  const databaseUrl = await context.createDatabase();
  const env = { MAX_ACTIVE_TOKENS: '64', ADMISSION_INTERVAL_MS: '50' };
  const concert = await seedSeats(databaseUrl, 5, seatsPerDate, env);
  const leader = await startServer(databaseUrl, env);
  const standby = await startServer(databaseUrl, env);
  let bare: Awaited<ReturnType<typeof bareServer>> | undefined;
  try {
    const tokens = await admittedTokens(
      leader,
      Array.from({ length: connections }, (_, i) => `reader-${i}`),
    );
    const date = concert.dates[0]!;
    // Half the seats held.
    await drive(leader.baseUrl, { concurrency: 16, total: seatsPerDate / 2 }, (i) => ({
      method: 'POST',
      path: '/reservations',
      headers: { 'x-queue-token': tokens[i % connections]! },
      body: { concertTimeId: date.concertTimeId, seatId: date.seats[i * 2]!.seatId },
    }));
    const seatsPath = `/concert-times/${date.concertTimeId}/seats`;
    const datesPath = `/concerts/${concert.concertId}/dates`;
    const headers = (i: number) => ({ 'x-queue-token': tokens[i % connections]! });
    const sample = await (await fetch(leader.baseUrl + seatsPath, { headers: headers(0) })).text();
    check(
      (JSON.parse(sample) as unknown[]).length === seatsPerDate / 2,
      'half the seats are listed as empty',
    );
    const onStandby = await (
      await fetch(standby.baseUrl + seatsPath, { headers: headers(0) })
    ).text();
    check(onStandby === sample, 'the standby lists the same seats as the leader');
    bare = await bareServer(sample);
    const xacts = await transactionCounter(databaseUrl, context.smoke);
    const seats = await measure(leader, total, seatsPath, headers);
    const dates = await measure(leader, total, datesPath, headers);
    const queriesOnLeader = (seats.requests + dates.requests) * 1.1;
    const perQuery = await xacts.perOperation(queriesOnLeader);
    const standbyXacts = await transactionCounter(databaseUrl, context.smoke);
    const standbySeats = await measure(standby, total, seatsPath, headers);
    const standbyDates = await measure(standby, total, datesPath, headers);
    const perStandbyQuery = await standbyXacts.perOperation(
      (standbySeats.requests + standbyDates.requests) * 1.1,
    );
    const baseline = await measure(bare, total, '/constant', () => ({}));
    return {
      scenario: 'queries',
      figures: [
        against(`GET seats (${seatsPerDate} seats, half held) req/s, leader`, seats, baseline),
        { name: 'GET seats p99, leader', value: round(seats.p99Ms, 1), unit: 'ms' },
        against('GET dates req/s, leader', dates, baseline),
        against('GET seats req/s, standby process', standbySeats, baseline),
        { name: 'GET seats p99, standby', value: round(standbySeats.p99Ms, 1), unit: 'ms' },
        against('GET dates req/s, standby process', standbyDates, baseline),
        cpuFigure('API CPU per GET seats, leader', seats),
        cpuFigure('API CPU per GET seats, standby', standbySeats),
        cpuFigure('bare Fastify CPU per request (same bytes)', baseline),
        { name: 'PostgreSQL transactions per query, leader', value: perQuery, unit: '' },
        { name: 'PostgreSQL transactions per query, standby', value: perStandbyQuery, unit: '' },
      ],
      notes: [
        `${connections} connections; baseline: a bare Fastify route returning the same ${sample.length}-byte body; transactions counted over warm-up and measured queries, with both API processes' background work`,
      ],
    };
  } finally {
    bare?.stop();
    await standby.stop();
    await leader.stop();
  }
}
