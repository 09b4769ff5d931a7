import { buildApp } from '../../src/api/app.js';
import { startSystem } from '../../src/system.js';
import { adminKey, startTestApi, type TestApi } from '../support/api.js';

/**
 * Two API instances on one database, each with its own pool and no shared memory: the
 * only thing they share is PostgreSQL, as two processes would.
 */
let api: TestApi;
let second: { baseUrl: string; close(): Promise<void> };
beforeAll(async () => {
  api = await startTestApi({ JOIN_RATE_LIMIT_PER_MINUTE: '5' });
  const system = await startSystem({
    config: api.system.config,
    clock: api.system.clock,
    processes: false,
  });
  const app = await buildApp({ system, adminApiKey: adminKey });
  second = {
    baseUrl: await app.listen({ host: '127.0.0.1', port: 0 }),
    close: async () => {
      await app.close();
      await system.close();
    },
  };
});
afterAll(async () => {
  await second.close();
  await api.close();
});

const joinAt = (baseUrl: string, userId: string) =>
  fetch(`${baseUrl}/queue/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ userId }),
  });

it('lets exactly the limit through across both instances, however the joins interleave', async () => {
  const responses = await Promise.all(
    Array.from({ length: 12 }, (_, i) => joinAt(i % 2 ? second.baseUrl : api.baseUrl, 'carol')),
  );
  const statuses = responses.map((response) => response.status);
  expect(statuses.filter((status) => status === 200 || status === 201)).toHaveLength(5);
  const limited = responses.filter((response) => response.status === 429);
  expect(limited).toHaveLength(7);
  for (const response of limited) {
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    const retryAfter = Number(response.headers.get('retry-after'));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    const problem = (await response.json()) as { code: string; retryAfterSeconds: number };
    expect(problem).toMatchObject({ code: 'RATE_LIMITED', retryAfterSeconds: retryAfter });
  }
  // One live token for carol, whichever instance answered.
  const tokens = new Set<string>();
  for (const response of responses.filter((r) => r.ok))
    tokens.add(((await response.json()) as { token: string }).token);
  expect(tokens.size).toBe(1);

  // Another user has a limit of their own.
  expect((await joinAt(second.baseUrl, 'dave')).status).toBe(201);
});

it('opens a new window a minute after the first join of the last one', async () => {
  for (let i = 0; i < 5; i++) expect((await joinAt(api.baseUrl, 'erin')).ok).toBe(true);
  expect((await joinAt(second.baseUrl, 'erin')).status).toBe(429);
  api.system.testClock.advance(30);
  const stillLimited = await joinAt(api.baseUrl, 'erin');
  expect(stillLimited.status).toBe(429);
  expect(Number(stillLimited.headers.get('retry-after'))).toBeLessThanOrEqual(30);
  api.system.testClock.advance(31);
  expect((await joinAt(second.baseUrl, 'erin')).status).toBe(200);
});
