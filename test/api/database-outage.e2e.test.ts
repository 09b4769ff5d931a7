import pg from 'pg';
import { pino } from 'pino';
import {
  adminKey,
  createConcert,
  startTestApi,
  type HttpResponse,
  type TestApi,
} from '../support/api.js';

let api: TestApi;
/** What the server logged at error level: a 500's cause, shown when the test fails. */
const serverErrors: string[] = [];
beforeAll(async () => {
  const logger = pino({ level: 'error' }, { write: (line: string) => serverErrors.push(line) });
  api = await startTestApi({ MAX_CHARGE_AMOUNT: '1000000' }, { logger });
});
afterAll(() => api.close());

/** Terminates every backend of the API's database, as an operator or a failover would. */
async function terminateBackends(admin: pg.Client, database: string): Promise<number> {
  const { rowCount } = await admin.query(
    `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
     WHERE datname = $1 AND pid <> pg_backend_pid()`,
    [database],
  );
  return rowCount ?? 0;
}

function expectServedOrUnavailable(response: HttpResponse, okStatuses: readonly number[]) {
  if (okStatuses.includes(response.statusCode)) return 'ok';
  // Never a 500 or a dropped socket: a clean 503 the client can retry.
  if (response.statusCode !== 503)
    throw new Error(
      `${response.statusCode} ${response.body}\nserver logged:\n${serverErrors.join('\n')}`,
    );
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  expect(response.headers.get('retry-after')).toMatch(/^\d+$/);
  expect(response.json<{ code: string }>().code).toBe('SERVICE_UNAVAILABLE');
  return 'unavailable';
}

describe('PostgreSQL dropping connections', () => {
  it('answers 503 while backends are terminated, never dies, and serves again by itself', async () => {
    const token = await api.admittedUser('outage-user');
    const concert = await createConcert(api, 3);
    const database = new URL(api.system.databaseUrl).pathname.slice(1);
    const admin = new pg.Client({ connectionString: process.env.TEST_DATABASE_URL });
    admin.on('error', () => undefined);
    await admin.connect();

    const outcomes = { ok: 0, unavailable: 0 };
    let stop = false;
    const load = async (worker: number) => {
      for (let i = 0; !stop; i++) {
        const requests = [
          api.inject({
            method: 'POST',
            url: '/wallet/charges',
            headers: { 'x-queue-token': token, 'idempotency-key': `w${worker}-${i}` },
            payload: { amount: 100 },
          }),
          api.inject({
            method: 'GET',
            url: `/concerts/${concert.concertId}/dates`,
            headers: { 'x-queue-token': token },
          }),
          api.inject({
            method: 'GET',
            url: '/admin/projections',
            headers: { 'x-admin-key': adminKey },
          }),
        ];
        for (const response of await Promise.all(requests))
          outcomes[expectServedOrUnavailable(response, [200, 201])]++;
        // Admission holds a checked-out client with an advisory lock across awaits.
        await api.admit().catch(() => undefined);
      }
    };
    const workers = [0, 1, 2].map(load);
    let terminated = 0;
    for (let round = 0; round < 30; round++) {
      terminated += await terminateBackends(admin, database);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    stop = true;
    await Promise.all(workers);
    await admin.end();
    expect(terminated).toBeGreaterThan(30);

    // Service resumes by itself: the pool replaces the dead clients.
    let served: HttpResponse | undefined;
    for (let attempt = 0; attempt < 50; attempt++) {
      served = await api.inject({
        method: 'GET',
        url: `/concerts/${concert.concertId}/dates`,
        headers: { 'x-queue-token': token },
      });
      if (served.statusCode === 200) break;
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    expect(served?.statusCode).toBe(200);
    const charged = await api.inject({
      method: 'POST',
      url: '/wallet/charges',
      headers: { 'x-queue-token': token },
      payload: { amount: 1 },
    });
    expect([200, 201]).toContain(charged.statusCode);
    expect(outcomes.ok).toBeGreaterThan(0);
  });
});
