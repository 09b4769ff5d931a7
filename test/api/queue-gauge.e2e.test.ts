import { adminKey, startTestApi, type TestApi } from '../support/api.js';

// The waiting count (the `queue_waiting_tokens` gauge and GET /admin/queue) counts tokens
// that wait, not the holes left in the line by tokens that left it while waiting.
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ MAX_ACTIVE_TOKENS: '10' });
});
afterAll(() => api.close());

const admin = { 'x-admin-key': adminKey };
async function waitingCounts() {
  const metrics = await api.inject({ method: 'GET', url: '/metrics' });
  const gauge = /^queue_waiting_tokens (\d+)$/m.exec(metrics.body);
  expect(gauge).not.toBeNull();
  const queue = await api.inject({ method: 'GET', url: '/admin/queue', headers: admin });
  return { gauge: Number(gauge![1]), admin: queue.json<{ waiting: number }>().waiting };
}

it('does not count revoked waiting tokens (holes) as waiting, and comes back to 0', async () => {
  const paused = await api.inject({
    method: 'PATCH',
    url: '/admin/queue',
    headers: admin,
    payload: { mode: 'paused' },
  });
  expect(paused.statusCode).toBe(200);
  for (const userId of ['gauge-1', 'gauge-2', 'gauge-3', 'gauge-4']) {
    const joined = await api.inject({ method: 'POST', url: '/queue/tokens', payload: { userId } });
    expect(joined.statusCode).toBe(201);
  }
  expect(await waitingCounts()).toEqual({ gauge: 4, admin: 4 });

  // Two leave the line while waiting: their numbers stay as holes, not as waiting tokens.
  for (const userId of ['gauge-2', 'gauge-4']) {
    const revoked = await api.inject({
      method: 'POST',
      url: '/admin/queue/revocations',
      headers: admin,
      payload: { userId },
    });
    expect(revoked.statusCode).toBe(200);
  }
  await api.admit(); // paused: admits nobody, but the projections have caught up after it
  expect(await waitingCounts()).toEqual({ gauge: 2, admin: 2 });

  await api.inject({
    method: 'PATCH',
    url: '/admin/queue',
    headers: admin,
    payload: { mode: 'open' },
  });
  await api.admit();
  expect(await waitingCounts()).toEqual({ gauge: 0, admin: 0 });
});
