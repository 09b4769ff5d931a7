import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import { systemClock } from '../src/commands/clock.js';
import { scheduleConcert } from '../src/commands/schedule-concert.js';
import { loadConfig } from '../src/config.js';
import { createPool } from '../src/infrastructure/pool.js';
import { PostgresEventStore } from '../src/events/store/postgres/store.js';
import { projections } from '../src/projections/index.js';
import { countEventsInPostgres, rebuildProjection } from '../src/projections/rebuild.js';
import { startSystem } from '../src/system.js';
import { eta } from './eta.js';
import { drive, freePort, percentile, startServer, until, type RunningServer } from './support.js';
import { measureWaiting, waitingFigures, type WaitingRun } from './waiting.js';
import { extrapolateWaiting } from './waiting-extrapolation.js';

export interface Figure {
  readonly name: string;
  readonly value: number;
  readonly unit: string;
  readonly baseline?: number;
  readonly target?: string;
  readonly met?: boolean;
}

export interface ScenarioResult {
  readonly scenario: string;
  readonly figures: readonly Figure[];
  readonly notes: readonly string[];
}

export interface BenchContext {
  readonly smoke: boolean;
  createDatabase(): Promise<string>;
}

type Scenario = (context: BenchContext) => Promise<ScenarioResult>;

const size = (context: BenchContext, full: number, smoke: number) => (context.smoke ? smoke : full);
const round = (value: number, digits = 0) => Number(value.toFixed(digits));

/** Correctness checks inside a scenario fail it loudly; timing never does. */
function check(condition: boolean, message: string): void {
  if (!condition) throw new Error(`benchmark check failed: ${message}`);
}

async function admittedTokens(
  server: RunningServer,
  users: readonly string[],
  concurrency = 32,
): Promise<string[]> {
  const tokens: string[] = new Array<string>(users.length);
  const issued = await drive(
    server.baseUrl,
    { concurrency, total: users.length, keepBodies: true },
    (i) => ({ method: 'POST', path: '/queue/tokens', body: { userId: users[i] } }),
  );
  check(
    issued.bodies.every((entry) => entry.status === 201),
    'every user got a new token',
  );
  issued.bodies.forEach(
    (entry, i) => (tokens[i] = (JSON.parse(entry.body) as { token: string }).token),
  );
  const last = tokens[tokens.length - 1]!;
  await until(
    async () => {
      const response = await fetch(`${server.baseUrl}/queue/tokens/current`, {
        headers: { 'x-queue-token': last },
      });
      return ((await response.json()) as { status: string }).status === 'pass';
    },
    120_000,
    'admission of the benchmark users',
  );
  return tokens;
}

async function seedSeats(databaseUrl: string, dates: number, seatsPerDate: number) {
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent', DB_POOL_SIZE: '20' });
  const system = await startSystem({
    config,
    clock: systemClock,
    projections: false,
    processes: false,
  });
  try {
    const now = Date.now();
    const { concert } = await scheduleConcert(system, {
      title: 'Benchmark concert',
      dates: Array.from({ length: dates }, (_, date) => ({
        concertTime: new Date(now + (date + 7) * 86_400_000).toISOString(),
        reservationStartTime: new Date(now - 3_600_000).toISOString(),
        seats: Array.from({ length: seatsPerDate }, (_, seat) => ({
          seatNumber: seat + 1,
          price: 50_000 + (seat % 3) * 30_000,
        })),
      })),
    });
    return concert;
  } finally {
    await system.close();
  }
}

const append: Scenario = async (context) => {
  const total = size(context, 20_000, 400);
  const concurrency = 32;
  const databaseUrl = await context.createDatabase();
  const pool = createPool(databaseUrl, concurrency + 4);
  const store = await PostgresEventStore.create(pool);
  await pool.query(`CREATE TABLE baseline_events (seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, event_id uuid NOT NULL UNIQUE, stream_name text NOT NULL,
    stream_revision bigint NOT NULL, event_type text NOT NULL, data jsonb NOT NULL, metadata jsonb NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), UNIQUE (stream_name, stream_revision))`);
  const data = {
    seatId: randomUUID(),
    userId: 'benchmark-user',
    price: 50_000,
    heldAt: new Date().toISOString(),
  };
  const timed = async (work: (i: number) => Promise<unknown>) => {
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < total) await work(next++);
      }),
    );
    return total / ((performance.now() - started) / 1000);
  };
  // Warm up both paths, then measure each.
  await timed((i) =>
    store.appendToStream(`warm-${i}-${randomUUID()}`, [{ type: 'Warm', data }], {
      expectedRevision: 'no_stream',
    }),
  );
  const appends = await timed((i) =>
    store.appendToStream(`bench-${i}-${randomUUID()}`, [{ type: 'SeatHeld', data }], {
      expectedRevision: 'no_stream',
    }),
  );
  const inserts = await timed((i) =>
    pool.query(
      'INSERT INTO baseline_events (event_id, stream_name, stream_revision, event_type, data, metadata) VALUES ($1, $2, 0, $3, $4, $5)',
      [randomUUID(), `bench-${i}`, 'SeatHeld', data, {}],
    ),
  );
  await store.close();
  await pool.end();
  return {
    scenario: 'append',
    figures: [
      {
        name: 'appends/s (32 concurrent, expected revision)',
        value: round(appends),
        unit: '/s',
        baseline: round(inserts),
        target: '>= 0.5 x plain INSERT',
        met: appends >= 0.5 * inserts,
      },
    ],
    notes: [
      `${total} single-event appends to distinct streams vs ${total} plain INSERTs into an equivalent table`,
    ],
  };
};

const hold: Scenario = async (context) => {
  const dates = size(context, 20, 2);
  const seatsPerDate = size(context, 1000, 100);
  const connections = size(context, 64, 8);
  const databaseUrl = await context.createDatabase();
  const concert = await seedSeats(databaseUrl, dates, seatsPerDate);
  const server = await startServer(databaseUrl, {
    MAX_ACTIVE_TOKENS: String(connections),
    ADMISSION_INTERVAL_MS: '50',
  });
  try {
    const tokens = await admittedTokens(
      server,
      Array.from({ length: connections }, (_, i) => `holder-${i}`),
    );
    const seats = concert.dates.flatMap((date) =>
      date.seats.map((seat) => ({ concertTimeId: date.concertTimeId, seatId: seat.seatId })),
    );
    const warm = Math.min(500, Math.floor(seats.length / 10));
    await drive(server.baseUrl, { concurrency: connections, total: warm }, (i) => ({
      method: 'POST',
      path: '/reservations',
      headers: { 'x-queue-token': tokens[i % connections]! },
      body: seats[i],
    }));
    const result = await drive(
      server.baseUrl,
      { concurrency: connections, total: seats.length - warm, timeLimitMs: 120_000 },
      (i) => ({
        method: 'POST',
        path: '/reservations',
        headers: { 'x-queue-token': tokens[i % connections]! },
        body: seats[warm + i],
      }),
    );
    check(
      (result.statuses[201] ?? 0) === result.requests,
      `every hold of a distinct seat succeeded (${JSON.stringify(result.statuses)})`,
    );
    return {
      scenario: 'hold',
      figures: [
        {
          name: `holds/s (${connections} connections)`,
          value: round(result.perSecond),
          unit: '/s',
          target: '>= 2500',
          met: result.perSecond >= 2500,
        },
        { name: 'hold p50', value: round(result.p50Ms, 1), unit: 'ms' },
        {
          name: 'hold p99',
          value: round(result.p99Ms, 1),
          unit: 'ms',
          target: '< 100',
          met: result.p99Ms < 100,
        },
      ],
      notes: [
        `${result.requests} holds of distinct seats after ${warm} warm-up holds; each answered after the read models reflected it`,
      ],
    };
  } finally {
    await server.stop();
  }
};

const contention: Scenario = async (context) => {
  const users = size(context, 2000, 40);
  const seatCount = size(context, 200, 10);
  const requests = size(context, 20_000, 400);
  const databaseUrl = await context.createDatabase();
  const concert = await seedSeats(databaseUrl, 1, seatCount);
  const server = await startServer(databaseUrl, {
    MAX_ACTIVE_TOKENS: String(users),
    ADMISSION_INTERVAL_MS: '50',
  });
  try {
    const tokens = await admittedTokens(
      server,
      Array.from({ length: users }, (_, i) => `fan-${i}`),
      64,
    );
    const date = concert.dates[0]!;
    let winners = 0;
    let soldOutAt = 0;
    const started = performance.now();
    const result = await drive(
      server.baseUrl,
      { concurrency: size(context, 256, 16), total: requests, keepBodies: true },
      (i) => ({
        method: 'POST',
        path: '/reservations',
        headers: { 'x-queue-token': tokens[i % users]! },
        body: {
          concertTimeId: date.concertTimeId,
          seatId: date.seats[(i * 7919) % seatCount]!.seatId,
        },
      }),
    );
    for (const entry of result.bodies) if (entry.status === 201) winners++;
    soldOutAt = (performance.now() - started) / 1000;
    const serverErrors = Object.entries(result.statuses)
      .filter(([status]) => Number(status) >= 500)
      .reduce((sum, [, count]) => sum + count, 0);
    check(winners === seatCount, `exactly ${seatCount} winners (got ${winners})`);
    check(serverErrors === 0, `no 5xx (${JSON.stringify(result.statuses)})`);
    check(
      (result.statuses[409] ?? 0) === requests - seatCount,
      'every other request got 409 SEAT_NOT_AVAILABLE',
    );
    return {
      scenario: 'contention',
      figures: [
        {
          name: `time for ${requests} holds on ${seatCount} seats from ${users} users`,
          value: round(soldOutAt, 2),
          unit: 's',
        },
        { name: 'requests/s', value: round(result.perSecond), unit: '/s' },
        { name: 'p99', value: round(result.p99Ms, 1), unit: 'ms' },
      ],
      notes: [`exactly ${winners} winners, ${result.statuses[409] ?? 0} x 409, no 5xx`],
    };
  } finally {
    await server.stop();
  }
};

const queries: Scenario = async (context) => {
  const seatsPerDate = size(context, 500, 50);
  const total = size(context, 20_000, 200);
  const databaseUrl = await context.createDatabase();
  const concert = await seedSeats(databaseUrl, 5, seatsPerDate);
  const server = await startServer(databaseUrl, {
    MAX_ACTIVE_TOKENS: '64',
    ADMISSION_INTERVAL_MS: '50',
  });
  const barePort = await freePort();
  let bare: ReturnType<typeof spawn> | undefined;
  try {
    const tokens = await admittedTokens(
      server,
      Array.from({ length: 64 }, (_, i) => `reader-${i}`),
    );
    const date = concert.dates[0]!;
    // Half the seats held.
    await drive(server.baseUrl, { concurrency: 16, total: seatsPerDate / 2 }, (i) => ({
      method: 'POST',
      path: '/reservations',
      headers: { 'x-queue-token': tokens[i % 64]! },
      body: { concertTimeId: date.concertTimeId, seatId: date.seats[i * 2]!.seatId },
    }));
    const seatsPath = `/concert-times/${date.concertTimeId}/seats`;
    const sample = await (
      await fetch(server.baseUrl + seatsPath, { headers: { 'x-queue-token': tokens[0]! } })
    ).text();
    check(
      (JSON.parse(sample) as unknown[]).length === seatsPerDate / 2,
      'half the seats are listed as empty',
    );
    const bodyFile = path.join(tmpdir(), `bench-body-${randomUUID()}.json`);
    writeFileSync(bodyFile, sample);
    bare = spawn(process.execPath, ['--import', 'tsx', 'bench/bare-server.ts'], {
      env: { ...process.env, BODY_FILE: bodyFile, PORT: String(barePort) },
      stdio: 'inherit',
    });
    await until(
      () =>
        fetch(`http://127.0.0.1:${barePort}/constant`).then(
          (r) => r.ok,
          () => false,
        ),
      30_000,
      'the bare server',
    );
    const options = { concurrency: 64, total };
    await drive(server.baseUrl, { concurrency: 64, total: total / 10 }, (i) => ({
      method: 'GET',
      path: seatsPath,
      headers: { 'x-queue-token': tokens[i % 64]! },
    }));
    const seats = await drive(server.baseUrl, options, (i) => ({
      method: 'GET',
      path: seatsPath,
      headers: { 'x-queue-token': tokens[i % 64]! },
    }));
    const dates = await drive(server.baseUrl, options, (i) => ({
      method: 'GET',
      path: `/concerts/${concert.concertId}/dates`,
      headers: { 'x-queue-token': tokens[i % 64]! },
    }));
    await drive(`http://127.0.0.1:${barePort}`, { concurrency: 64, total: total / 10 }, () => ({
      method: 'GET',
      path: '/constant',
    }));
    const baseline = await drive(`http://127.0.0.1:${barePort}`, options, () => ({
      method: 'GET',
      path: '/constant',
    }));
    check(
      (seats.statuses[200] ?? 0) === seats.requests &&
        (dates.statuses[200] ?? 0) === dates.requests,
      'every query answered 200',
    );
    return {
      scenario: 'queries',
      figures: [
        {
          name: `GET seats (${seatsPerDate} seats, half held) req/s`,
          value: round(seats.perSecond),
          unit: '/s',
          baseline: round(baseline.perSecond),
          target: '>= 0.25 x bare Fastify',
          met: seats.perSecond >= 0.25 * baseline.perSecond,
        },
        { name: 'GET seats p99', value: round(seats.p99Ms, 1), unit: 'ms' },
        {
          name: 'GET dates req/s',
          value: round(dates.perSecond),
          unit: '/s',
          baseline: round(baseline.perSecond),
          target: '>= 0.25 x bare Fastify',
          met: dates.perSecond >= 0.25 * baseline.perSecond,
        },
      ],
      notes: [
        `64 connections; baseline: a bare Fastify route returning the same ${sample.length}-byte body`,
      ],
    };
  } finally {
    bare?.kill('SIGTERM');
    await server.stop();
  }
};

const queue: Scenario = async (context) => {
  const users = size(context, 100_000, 500);
  const lookups = size(context, 20_000, 200);
  const databaseUrl = await context.createDatabase();
  const server = await startServer(databaseUrl, {
    MAX_ACTIVE_TOKENS: '100',
    ADMISSION_INTERVAL_MS: '1000',
  });
  try {
    const joined = await drive(
      server.baseUrl,
      { concurrency: 64, total: users, keepBodies: true, timeLimitMs: 600_000 },
      (i) => ({ method: 'POST', path: '/queue/tokens', body: { userId: `queued-${i}` } }),
    );
    check(
      (joined.statuses[201] ?? 0) === joined.requests,
      `every user joined (${JSON.stringify(joined.statuses)})`,
    );
    const tokens = joined.bodies.map(
      (entry) => (JSON.parse(entry.body) as { token: string }).token,
    );
    const waiting = tokens.slice(Math.min(1000, tokens.length / 2));
    const lookup = await drive(server.baseUrl, { concurrency: 64, total: lookups }, (i) => ({
      method: 'GET',
      path: '/queue/tokens/current',
      headers: { 'x-queue-token': waiting[(i * 7919) % waiting.length]! },
    }));
    check(
      (lookup.statuses[200] ?? 0) === lookup.requests,
      `every lookup answered 200 (${JSON.stringify(lookup.statuses)})`,
    );
    const rss = server.rssBytes() / 1024 / 1024;
    return {
      scenario: 'queue',
      figures: [
        {
          name: `tokens issued/s (${users} users, 64 connections)`,
          value: round(joined.perSecond),
          unit: '/s',
          target: '>= 3000',
          met: joined.perSecond >= 3000,
        },
        {
          name: 'position lookup p99',
          value: round(lookup.p99Ms, 1),
          unit: 'ms',
          target: '< 20',
          met: lookup.p99Ms < 20,
        },
        {
          name: 'server RSS after',
          value: round(rss),
          unit: 'MB',
          target: '< 300',
          met: rss < 300,
        },
      ],
      notes: [
        `join p50 ${round(joined.p50Ms, 1)} ms, p99 ${round(joined.p99Ms, 1)} ms; lookups of random waiting users at 64 connections`,
      ],
    };
  } finally {
    await server.stop();
  }
};

const projection: Scenario = async (context) => {
  const total = size(context, 1_000_000, 4000);
  const quarter = total / 4;
  const databaseUrl = await context.createDatabase();
  const config = loadConfig({ DATABASE_URL: databaseUrl, LOG_LEVEL: 'silent' });
  const system = await startSystem({
    config,
    clock: systemClock,
    projections: false,
    processes: false,
  });
  try {
    // Straight into the log: tokens, charges, seats and holds in one bulk statement each.
    const client = new pg.Client({ connectionString: databaseUrl });
    await client.connect();
    const at = new Date().toISOString();
    await client.query(
      `INSERT INTO es_events (event_id, stream_name, stream_revision, event_type, data)
      SELECT gen_random_uuid(), 'token-u' || i, 0, 'TokenIssued', jsonb_build_object('tokenId', gen_random_uuid()::text, 'userId', 'u' || i, 'issuedAt', $2::text) FROM generate_series(1, $1) i`,
      [quarter, at],
    );
    await client.query(
      `INSERT INTO es_events (event_id, stream_name, stream_revision, event_type, data)
      SELECT gen_random_uuid(), 'wallet-u' || i, 0, 'WalletCharged', jsonb_build_object('userId', 'u' || i, 'chargeId', gen_random_uuid()::text, 'amount', 1000, 'balance', 1000, 'chargedAt', $2::text) FROM generate_series(1, $1) i`,
      [quarter, at],
    );
    await client.query(
      `INSERT INTO es_events (event_id, stream_name, stream_revision, event_type, data)
      SELECT gen_random_uuid(), 'seat-s' || i, 0, 'SeatCreated', jsonb_build_object('seatId', 's' || i, 'concertId', 'c', 'concertTimeId', 't' || (i / 1000), 'seatNumber', i % 1000, 'price', 50000, 'concertTime', '2031-01-01T00:00:00.000Z', 'reservationStartTime', '2030-01-01T00:00:00.000Z') FROM generate_series(1, $1) i`,
      [quarter],
    );
    await client.query(
      `INSERT INTO es_events (event_id, stream_name, stream_revision, event_type, data)
      SELECT gen_random_uuid(), 'seat-s' || i, 1, 'SeatHeld', jsonb_build_object('seatId', 's' || i, 'concertTimeId', 't' || (i / 1000), 'reservationId', gen_random_uuid()::text, 'userId', 'u' || i, 'price', 50000, 'heldAt', $2::text, 'holdExpiresAt', $2::text) FROM generate_series(1, $1) i`,
      [quarter, at],
    );
    await client.end();
    const countEvents = countEventsInPostgres(system.db);
    const started = performance.now();
    let applied = 0;
    for (const each of projections)
      applied += (await rebuildProjection({ ...system, countEvents }, each)).applied;
    const seconds = (performance.now() - started) / 1000;
    check(applied >= total, `every event applied by some projection (${applied} of ${total})`);
    return {
      scenario: 'projection',
      figures: [
        {
          name: `rebuild of all projections over ${total} events`,
          value: round(total / seconds),
          unit: 'events/s',
          target: '>= 20000',
          met: total / seconds >= 20_000,
        },
      ],
      notes: [
        `${round(seconds, 1)} s for ${applied} event applications across ${projections.length} projections`,
      ],
    };
  } finally {
    await system.close();
  }
};

/** Waiting streams at 10,000 and at the most one process here can hold (~19,000). */
const waiting: Scenario = async (context) => {
  // BENCH_WAITING_COUNTS=10000 runs one size only.
  const counts = context.smoke
    ? [300]
    : (process.env.BENCH_WAITING_COUNTS?.split(',').map(Number) ?? [10_000, 19_000]);
  const figures: Figure[] = [];
  const notes: string[] = [];
  const runs: WaitingRun[] = [];
  for (const count of counts) {
    const run = await measureWaiting(
      await context.createDatabase(),
      count,
      context.smoke ? 5000 : 14_000,
      context.smoke ? 200 : 1000,
    );
    const result = waitingFigures(run);
    // Each size is printed as it finishes: a long run that fails later keeps these.
    console.log(JSON.stringify(run));
    figures.push(...result.figures);
    notes.push(...result.notes);
    runs.push(run);
  }
  // Clearly labelled: 100,000 does not fit in one process here (20,000 open files).
  const extrapolated = extrapolateWaiting(runs);
  return {
    scenario: 'waiting',
    figures: [...figures, ...extrapolated.figures],
    notes: [...notes, ...extrapolated.notes],
  };
};

export const scenarios: Readonly<Record<string, Scenario>> = {
  append,
  hold,
  contention,
  queries,
  queue,
  projection,
  eta,
  waiting,
};
export { percentile };
