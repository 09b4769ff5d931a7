import pg from 'pg';
import { projections } from '../src/projections/index.js';
import { postgresLog, rebuildProjections } from '../src/projections/rebuild.js';
import { appendRateOfThisRun, appendScenario } from './append.js';
import { transactionCounter } from './transactions.js';
import { eta } from './eta.js';
import { admittedTokens, check, round, seedSeats, size, startWriteOnlySystem } from './fixtures.js';
import { queries } from './queries.js';
import { processes } from './processes.js';
import { queue } from './queue.js';
import { cpuMeter, drive, percentile, startServer } from './support.js';
import { measureWaiting, waitingFigures, type WaitingRun } from './waiting.js';
import { extrapolateWaiting } from './waiting-extrapolation.js';
import { measureWriteFloor } from './write-floor.js';

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

const hold: Scenario = async (context) => {
  const dates = size(context, 20, 2);
  const seatsPerDate = size(context, 1000, 100);
  const connections = size(context, 64, 8);
  const appendRate = await appendRateOfThisRun(context);
  const databaseUrl = await context.createDatabase();
  const env = { MAX_ACTIVE_TOKENS: String(connections), ADMISSION_INTERVAL_MS: '50' };
  const concert = await seedSeats(databaseUrl, dates, seatsPerDate, env);
  const server = await startServer(databaseUrl, env);
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
    const xacts = await transactionCounter(databaseUrl, context.smoke);
    const cpu = cpuMeter(server);
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
    const cpuPerHold = cpu.perOperation(result.requests);
    const perHold = await xacts.perOperation(result.requests);
    return {
      scenario: 'hold',
      figures: [
        {
          name: `holds/s (${connections} connections) vs this run's append rate`,
          value: round(result.perSecond),
          unit: '/s',
          baseline: round(appendRate),
          target: '>= 0.5 x append',
          met: result.perSecond >= 0.5 * appendRate,
        },
        { name: 'hold p50', value: round(result.p50Ms, 1), unit: 'ms' },
        {
          name: 'hold p99',
          value: round(result.p99Ms, 1),
          unit: 'ms',
          target: '< 50',
          met: result.p99Ms < 50,
        },
        { name: 'PostgreSQL transactions per hold', value: perHold, unit: '' },
        {
          name: 'API CPU per hold (projections included)',
          value: round(cpuPerHold.api, 2),
          unit: 'ms',
        },
        { name: 'PostgreSQL CPU per hold', value: round(cpuPerHold.postgres, 2), unit: 'ms' },
        { name: 'load generator CPU per hold', value: round(cpuPerHold.load, 2), unit: 'ms' },
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
  const env = { MAX_ACTIVE_TOKENS: String(users), ADMISSION_INTERVAL_MS: '50' };
  const concert = await seedSeats(databaseUrl, 1, seatCount, env);
  const server = await startServer(databaseUrl, env);
  try {
    const tokens = await admittedTokens(
      server,
      Array.from({ length: users }, (_, i) => `fan-${i}`),
      64,
    );
    const date = concert.dates[0]!;
    let winners = 0;
    let soldOutAt = 0;
    const xacts = await transactionCounter(databaseUrl, context.smoke);
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
    const perRequest = await xacts.perOperation(result.requests);
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
        {
          name: 'exactly one winner per seat, no 5xx',
          value: winners,
          unit: ' winners',
          baseline: seatCount,
          target: `${seatCount} winners`,
          met: winners === seatCount,
        },
        { name: 'PostgreSQL transactions per request', value: perRequest, unit: '' },
      ],
      notes: [`exactly ${winners} winners, ${result.statuses[409] ?? 0} x 409, no 5xx`],
    };
  } finally {
    await server.stop();
  }
};

const projection: Scenario = async (context) => {
  // BENCH_PROJECTION_EVENTS=100000 runs a smaller log (a multiple of 4).
  const total = Number(process.env.BENCH_PROJECTION_EVENTS ?? size(context, 1_000_000, 4000));
  const quarter = total / 4;
  const databaseUrl = await context.createDatabase();
  const system = await startWriteOnlySystem(databaseUrl);
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
    const xacts = await transactionCounter(databaseUrl, context.smoke);
    // The rebuild runs in this process: the meter's `load` is its Node CPU.
    const cpu = cpuMeter();
    const started = performance.now();
    // All at once, as `npm run cli -- rebuild` does: the log is read once for all of them.
    const rebuilt = await rebuildProjections({ ...system, ...postgresLog(system.db) }, projections);
    const applied = rebuilt.reduce((sum, each) => sum + each.applied, 0);
    const seconds = (performance.now() - started) / 1000;
    const cpuPerThousand = cpu.perOperation(total / 1000);
    check(applied >= total, `every event applied by some projection (${applied} of ${total})`);
    const perThousand = (await xacts.perOperation(total / 1000)) || 0;
    return {
      scenario: 'projection',
      figures: [
        {
          name: `rebuild of all projections over ${total} events`,
          value: round(total / seconds),
          unit: 'events/s',
          target: '>= 50000',
          met: total / seconds >= 50_000,
        },
        { name: 'PostgreSQL transactions per 1000 events rebuilt', value: perThousand, unit: '' },
        {
          name: 'rebuild CPU per 1000 events (Node, one process)',
          value: round(cpuPerThousand.load),
          unit: 'ms',
        },
        {
          name: 'PostgreSQL CPU per 1000 events rebuilt',
          value: round(cpuPerThousand.postgres),
          unit: 'ms',
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
  // The floor: a bare socket write per connection at the largest size, nothing of ours.
  const largest = runs.reduce((a, b) => (b.connections > a.connections ? b : a));
  const floor = await measureWriteFloor(largest.connections);
  const oursPerStream = (largest.cpuPerMoveMs * 1000) / largest.connections;
  figures.push(
    {
      name: `bare socket write, CPU per connection (${floor.connections} plain TCP connections)`,
      value: round(floor.cpuMicrosPerWrite, 1),
      unit: 'us',
    },
    {
      name: `server CPU per waiting stream per move, all of the process (${largest.connections})`,
      value: round(oursPerStream, 1),
      unit: 'us',
      baseline: round(floor.cpuMicrosPerWrite, 1),
    },
    {
      name: `pass time per message written (${largest.connections})`,
      value: round(largest.passMicrosPerMessage, 1),
      unit: 'us',
      baseline: round(floor.wallMicrosPerWrite, 1),
    },
  );
  notes.push(
    `bare socket writes: ${round(floor.cpuMicrosPerWrite, 1)} us CPU (${round(floor.systemShare * 100)}% in the kernel), ${round(floor.wallMicrosPerWrite, 1)} us wall per write at ${floor.connections} connections; a pass of bare writes to 100,000 would take ${round(floor.cpuMicrosPerWrite * 100)} ms of one core (EXTRAPOLATED)`,
  );
  return {
    scenario: 'waiting',
    figures: [...figures, ...extrapolated.figures],
    notes: [...notes, ...extrapolated.notes],
  };
};

export const scenarios: Readonly<Record<string, Scenario>> = {
  append: appendScenario,
  hold,
  contention,
  queries,
  queue,
  projection,
  eta,
  waiting,
  processes,
};
export { percentile };
