import { pino } from 'pino';
import { buildApp, type App } from '../../src/api/app.js';
import { systemLogger } from '../../src/logger.js';
import { startTestSystem, TestClock, type TestSystem } from '../support/system.js';

/**
 * The work an operator cares about logs one structured line each: admission rounds,
 * hold expiry, payments, rebuilds. Captured from the same pino logger server.ts wires in.
 */
const adminApiKey = 'test-admin-key-0123456789';
const lines: { msg: string; [field: string]: unknown }[] = [];
let system: TestSystem;
let app: App;
let baseUrl: string;

beforeAll(async () => {
  const logger = pino(
    { level: 'info' },
    { write: (line: string) => void lines.push(JSON.parse(line) as (typeof lines)[number]) },
  );
  system = await startTestSystem(
    { MAX_ACTIVE_TOKENS: '1', ADMISSION_INTERVAL_MS: '50', HOLD_EXPIRY_INTERVAL_MS: '50' },
    { processes: true, clock: new TestClock(Date.now()), log: systemLogger(logger) },
  );
  app = await buildApp({ system, adminApiKey, logger });
  baseUrl = await app.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await app.close();
  await system.drop();
});

async function call(method: string, url: string, headers: Record<string, string>, body?: unknown) {
  const response = await fetch(baseUrl + url, {
    method,
    headers: body === undefined ? headers : { ...headers, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** The first line whose message starts with `prefix` and has `fields`; waits for the processes. */
async function line(prefix: string, fields: Record<string, unknown> = {}) {
  const matches = () =>
    lines.find(
      (entry) =>
        entry.msg.startsWith(prefix) &&
        Object.entries(fields).every(([key, value]) => entry[key] === value),
    );
  for (let i = 0; i < 600 && !matches(); i++) await new Promise((r) => setTimeout(r, 50));
  const found = matches();
  if (!found)
    throw new Error(
      `no log line "${prefix}..." with ${JSON.stringify(fields)}; saw ${lines.map((entry) => entry.msg).join(' | ')}`,
    );
  return found;
}

it('logs admission, payments, hold expiry and rebuilds, one structured line each', async () => {
  const admin = { 'x-admin-key': adminApiKey };
  const now = system.clock().getTime();
  const concert = await call('POST', '/admin/concerts', admin, {
    title: 'Logged concert',
    dates: [
      {
        concertTime: new Date(now + 7 * 86_400_000).toISOString(),
        reservationStartTime: new Date(now - 3_600_000).toISOString(),
        seats: [
          { seatNumber: 1, price: 1000 },
          { seatNumber: 2, price: 1000 },
        ],
      },
    ],
  });
  expect(concert.status).toBe(201);
  const date = (concert.body.dates as { concertTimeId: string; seats: { seatId: string }[] }[])[0]!;

  const joined = await call('POST', '/queue/tokens', {}, { userId: 'logged-buyer' });
  const token = { 'x-queue-token': joined.body.token as string };
  const admission = await line('admission:', { admitted: 1 });
  expect(admission).toMatchObject({ level: 30, admitted: 1, waiting: 0 });
  // The line is logged once the round is written, not once the read model has it.
  for (let i = 0; i < 200; i++) {
    const current = await call('GET', '/queue/tokens/current', token);
    if (current.body.status === 'pass') break;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }

  const holds = [];
  for (const seat of date.seats) {
    const held = await call('POST', '/reservations', token, {
      concertTimeId: date.concertTimeId,
      seatId: seat.seatId,
    });
    expect(held.status).toBe(201);
    holds.push(held.body.reservationId);
  }
  const refused = await call('POST', '/payments', token, { reservationId: holds[0] });
  expect(refused.body.code).toBe('INSUFFICIENT_BALANCE');
  expect(await line('payment for', { outcome: 'INSUFFICIENT_BALANCE' })).toMatchObject({
    reservationId: holds[0],
    userId: 'logged-buyer',
  });
  await call('POST', '/wallet/charges', token, { amount: 1000 });
  const paid = await call('POST', '/payments', token, { reservationId: holds[0] });
  expect(paid.status).toBe(201);
  expect(await line('payment ', { outcome: 'paid' })).toMatchObject({
    paymentId: paid.body.paymentId,
    reservationId: holds[0],
    amount: 1000,
  });

  // The other hold runs out: the expiry process releases it and says so.
  system.testClock.advance(system.config.SEAT_HOLD_TTL_SECONDS + 1);
  expect(await line('hold expiry:')).toMatchObject({ released: 1 });

  const rebuild = await call('POST', '/admin/projections/seat-map/rebuild', admin);
  expect(rebuild.status).toBe(202);
  await line('rebuild of seat-map: started', { projection: 'seat-map' });
  const done = await line('rebuild of seat-map: done', { projection: 'seat-map' });
  expect(done.applied).toEqual(expect.any(Number));
  expect(done.seconds).toEqual(expect.any(Number));
});
