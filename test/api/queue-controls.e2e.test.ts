import { buildApp, type App } from '../../src/api/app.js';
import { startSystem, type System } from '../../src/system.js';
import { adminKey, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
/** A second process on the same database, with its own API. */
let other: System;
let otherApp: App;
let otherUrl: string;
beforeAll(async () => {
  api = await startTestApi({ MAX_ACTIVE_TOKENS: '3', TOKEN_TTL_SECONDS: '60' });
  other = await startSystem({
    config: api.system.config,
    clock: api.system.clock,
    processes: false,
  });
  otherApp = await buildApp({ system: other, adminApiKey: adminKey });
  otherUrl = await otherApp.listen({ host: '127.0.0.1', port: 0 });
});
afterAll(async () => {
  await otherApp.close();
  await other.close();
  await api.close();
});

const admin = { 'x-admin-key': adminKey };
const patchQueue = (payload: unknown) =>
  api.inject({ method: 'PATCH', url: '/admin/queue', headers: admin, payload });
async function join(userId: string) {
  const response = await api.inject({ method: 'POST', url: '/queue/tokens', payload: { userId } });
  return response.json<{ token: string; position: number | null }>();
}
const current = async (token: string) =>
  (
    await api.inject({
      method: 'GET',
      url: '/queue/tokens/current',
      headers: { 'x-queue-token': token },
    })
  ).json<{
    status: string;
    position: number | null;
    estimatedWaitSeconds: number | null;
    expiresAt?: string;
  }>();

it('pause admits nobody while joins queue; resume continues in order; a lowered cap waits for passes to end', async () => {
  const users = Array.from({ length: 6 }, (_, i) => `line-${i}`);
  const tokens = [];
  for (const userId of users) tokens.push((await join(userId)).token);
  expect((await patchQueue({ mode: 'paused' })).json()).toMatchObject({
    mode: 'paused',
    waiting: 6,
  });
  await api.admit();
  const paused = await Promise.all(tokens.map(current));
  expect(paused.map((token) => [token.status, token.position, token.estimatedWaitSeconds])).toEqual(
    tokens.map((_, i) => ['hold', i + 1, null]),
  );

  await patchQueue({ mode: 'open' });
  await api.admit();
  const resumed = await Promise.all(tokens.map(current));
  expect(resumed.map((token) => [token.status, token.position])).toEqual([
    ['pass', 0],
    ['pass', 0],
    ['pass', 0],
    ['hold', 1],
    ['hold', 2],
    ['hold', 3],
  ]);
  expect(resumed[3]!.estimatedWaitSeconds).toEqual(expect.any(Number));

  // Cap lowered below the active count: no pass is cut short, nobody gets in.
  expect((await patchQueue({ maxActive: 1 })).json()).toMatchObject({ maxActive: 1, active: 3 });
  await api.admit();
  const lowered = await Promise.all(tokens.map(current));
  expect(lowered.slice(0, 3).map((token) => token.expiresAt)).toEqual(
    resumed.slice(0, 3).map((token) => token.expiresAt),
  );
  expect(lowered[3]!.status).toBe('hold');
  api.system.testClock.advance(61);
  await api.admit();
  const afterExpiry = await Promise.all(tokens.map(current));
  expect(afterExpiry.map((token) => token.status)).toEqual([
    'expired',
    'expired',
    'expired',
    'pass',
    'hold',
    'hold',
  ]);
  // Passthrough admits everyone waiting, cap or not.
  await patchQueue({ mode: 'passthrough' });
  await api.admit();
  expect((await Promise.all(tokens.map(current))).slice(3).map((token) => token.status)).toEqual([
    'pass',
    'pass',
    'pass',
  ]);
  await patchQueue({ mode: 'open', maxActive: 3 });
});

it('never admits more than admissionsPerMinute in any 60 s window', async () => {
  await patchQueue({ maxActive: 1000, admissionsPerMinute: 2 });
  const tokens = [];
  for (let i = 0; i < 10; i++) tokens.push((await join(`rate-${i}`)).token);
  for (let round = 0; round < 20; round++) {
    await api.admit();
    api.system.testClock.advance(7);
  }
  const rows = await api.system.db
    .selectFrom('tokens')
    .select('admitted_at')
    .where('user_id', 'like', 'rate-%')
    .where('admitted_at', 'is not', null)
    .orderBy('admitted_at')
    .execute();
  const times = rows.map((row) => row.admitted_at!.getTime());
  // 140 s at 2 a minute: about 5 admissions, and never 3 within 60 s.
  expect(times.length).toBeGreaterThanOrEqual(4);
  for (let i = 0; i + 2 < times.length; i++)
    expect(times[i + 2]! - times[i]!).toBeGreaterThan(60_000);
  expect(
    (await api.inject({ method: 'GET', url: '/admin/queue', headers: admin })).json(),
  ).toMatchObject({
    admissionsPerMinute: 2,
  });
  await patchQueue({ admissionsPerMinute: null });
});

it('a revoked token is refused at once on every process, and its user may join again at the back', async () => {
  // Everybody in, then a paused line of three behind.
  const holder = await join('revoked-pass');
  await patchQueue({ mode: 'passthrough' });
  await api.admit();
  expect((await current(holder.token)).status).toBe('pass');
  await patchQueue({ mode: 'paused' });
  const waiting = [await join('revoked-w0'), await join('revoked-w1'), await join('revoked-w2')];
  expect(waiting.map((token) => token.position)).toEqual([1, 2, 3]);
  const gated = async (baseUrl: string, token: string) => {
    const response = await fetch(`${baseUrl}/concerts/no-such-concert/dates`, {
      headers: { 'x-queue-token': token },
    });
    return {
      statusCode: response.status,
      body: (await response.json()) as Record<string, unknown>,
    };
  };
  // Both processes let the pass through first (the leader caches it).
  expect((await gated(api.baseUrl, holder.token)).statusCode).toBe(404);
  expect((await gated(otherUrl, holder.token)).statusCode).toBe(404);

  const revoked = await api.inject({
    method: 'POST',
    url: '/admin/queue/revocations',
    headers: admin,
    payload: { userId: 'revoked-pass', reason: 'bot' },
  });
  expect(revoked.statusCode).toBe(200);
  expect(revoked.json()).toEqual({
    userId: 'revoked-pass',
    token: holder.token,
    status: 'expired',
  });
  for (const baseUrl of [api.baseUrl, otherUrl]) {
    const refused = await gated(baseUrl, holder.token);
    expect(refused.statusCode).toBe(403);
    expect(refused.body).toMatchObject({ code: 'TOKEN_EXPIRED', reason: 'revoked' });
  }

  // A waiting token revoked: those behind move up.
  const [w0, w1, w2] = waiting.map((token) => token.token) as [string, string, string];
  const before = [(await current(w1)).position!, (await current(w2)).position!];
  await api.inject({
    method: 'POST',
    url: '/admin/queue/revocations',
    headers: admin,
    payload: { userId: 'revoked-w1' },
  });
  expect(before).toEqual([2, 3]);
  expect((await current(w0)).position).toBe(1);
  expect((await current(w1)).status).toBe('expired');
  expect((await current(w2)).position).toBe(2);

  const again = await api.inject({
    method: 'POST',
    url: '/admin/queue/revocations',
    headers: admin,
    payload: { userId: 'revoked-pass' },
  });
  expect(again.statusCode).toBe(404);
  expect(again.json()).toMatchObject({ code: 'NOT_FOUND' });
  const rejoined = await api.inject({
    method: 'POST',
    url: '/queue/tokens',
    payload: { userId: 'revoked-pass' },
  });
  expect(rejoined.statusCode).toBe(201);
  expect(rejoined.json<{ token: string }>().token).not.toBe(holder.token);
  expect(rejoined.json()).toMatchObject({ status: 'hold', position: 3 });
});
