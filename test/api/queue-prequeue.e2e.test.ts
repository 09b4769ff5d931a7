import { foldEvents } from '../../src/events/event.js';
import { queueKind, queueStream } from '../../src/events/queue.js';
import { traceUser } from '../../src/queries/user-trace.js';
import { createTokenLookup } from '../../src/queries/tokens.js';
import { startSystem, type System } from '../../src/system.js';
import { adminKey, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
/** A second process on the same database (no projections, no processes of its own). */
let other: System;
beforeAll(async () => {
  api = await startTestApi({ MAX_ACTIVE_TOKENS: '2', TOKEN_TTL_SECONDS: '60' });
  other = await startSystem({
    config: api.system.config,
    clock: api.system.clock,
    projections: false,
    processes: false,
  });
});
afterAll(async () => {
  await other.close();
  await api.close();
});

const admin = { 'x-admin-key': adminKey };
const at = (seconds: number) =>
  new Date(api.system.clock().getTime() + seconds * 1000).toISOString();
const patchQueue = (payload: unknown) =>
  api.inject({ method: 'PATCH', url: '/admin/queue', headers: admin, payload });
const queueState = async () =>
  (await api.inject({ method: 'GET', url: '/admin/queue', headers: admin })).json();
async function join(userId: string) {
  const response = await api.inject({ method: 'POST', url: '/queue/tokens', payload: { userId } });
  expect(response.statusCode).toBe(201);
  return response.json<{
    token: string;
    position: number | null;
    prequeue?: true;
    opensAt?: string;
  }>();
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
    prequeue?: true;
  }>();

it('pre-queues joiners until the opening, draws their order once, and places later joiners behind them', async () => {
  const before = await join('before');
  expect(before.position).toBe(1);

  const opensAt = at(600);
  const patched = await patchQueue({ opensAt });
  expect(patched.statusCode).toBe(200);
  expect(patched.json()).toMatchObject({ opensAt, mode: 'open', maxActive: 2 });

  const prequeued = [];
  for (let i = 0; i < 8; i++) prequeued.push(await join(`pre-${i}`));
  for (const token of prequeued)
    expect(token).toMatchObject({ position: null, prequeue: true, opensAt });
  expect(await current(prequeued[0]!.token)).toMatchObject({
    status: 'hold',
    position: null,
    estimatedWaitSeconds: null,
    prequeue: true,
  });
  // Whatever the mode, nobody is admitted during a pre-queue.
  await patchQueue({ mode: 'passthrough' });
  await api.admit();
  expect(await current(before.token)).toMatchObject({ status: 'hold', position: 1 });
  expect(await queueState()).toMatchObject({ waiting: 1, prequeued: 8, active: 0 });

  // Moving the opening moves it: the old time passes and the pre-queue goes on.
  const moved = at(1200);
  await patchQueue({ opensAt: moved, mode: 'paused' });
  api.system.testClock.advance(700);
  await api.admit();
  expect(await current(prequeued[3]!.token)).toMatchObject({ position: null, prequeue: true });

  api.system.testClock.advance(600);
  await api.admit(); // opens and draws; paused, so nobody is admitted yet
  const after = [await join('after-0'), await join('after-1')];

  const positions = await Promise.all(
    prequeued.map(async (token) => (await current(token.token)).position!),
  );
  expect([...positions].sort((a, b) => a - b)).toEqual([2, 3, 4, 5, 6, 7, 8, 9]);
  expect((await current(before.token)).position).toBe(1);
  expect(after.map((token) => token.position)).toEqual([10, 11]);

  // The order is an event: the positions follow it, and a second process agrees.
  const history = foldEvents(queueKind, await api.system.store.readStream(queueStream));
  expect(history.pendingDraw).toBeUndefined();
  const events = await other.store.readStream(queueStream);
  const drawn = events.find((event) => event.type === 'PrequeueDrawn')!.data as { order: string[] };
  const byPlace = prequeued
    .map((token, i) => ({ token: token.token, position: positions[i]! }))
    .sort((a, b) => a.position - b.position)
    .map((entry) => entry.token);
  expect(drawn.order).toEqual(byPlace);
  const elsewhere = createTokenLookup(other);
  const otherPositions = await Promise.all(
    prequeued.map(async (token) => (await elsewhere(token.token, other.clock()))!.position),
  );
  expect(otherPositions).toEqual(positions);

  // The audit trail (CLI `trace --user`) shows the user's place in the draw.
  const trace = await traceUser(api.system, 'pre-3');
  expect(trace.find((entry) => entry.type === 'PrequeueDrawn')?.data).toMatchObject({
    round: 1,
    tokenId: prequeued[3]!.token,
    place: positions[3]! - 1,
    of: 8,
  });

  // Resume: admission goes on in order (cap 2).
  await patchQueue({ mode: 'open' });
  await api.admit();
  expect((await current(before.token)).status).toBe('pass');
  expect((await current(byPlace[0]!)).status).toBe('pass');
  expect(await current(byPlace[1]!)).toMatchObject({ status: 'hold', position: 1 });
  expect(await queueState()).toMatchObject({ prequeued: 0, active: 2, waiting: 9 });
});

it('opens at once when the opening is cleared, drawing within the request', async () => {
  await patchQueue({ opensAt: at(60) });
  const tokens = [await join('second-0'), await join('second-1'), await join('second-2')];
  expect(tokens.every((token) => token.position === null)).toBe(true);
  const opened = await patchQueue({ opensAt: null });
  expect(opened.json()).toMatchObject({ opensAt: null, prequeued: 0 });
  const positions = await Promise.all(
    tokens.map(async (token) => (await current(token.token)).position),
  );
  // Behind the 9 still waiting from before, in a drawn order.
  expect([...positions].sort()).toEqual([10, 11, 12]);
});

it('refuses bad settings with 400 and changes nothing', async () => {
  const before = await queueState();
  for (const payload of [
    {},
    { opensAt: at(-1) },
    { maxActive: 0 },
    { admissionsPerMinute: 0 },
    { mode: 'closed' },
    { surprise: true },
  ]) {
    const response = await patchQueue(payload);
    expect(response.statusCode).toBe(400);
    expect(response.json()).toMatchObject({ code: 'VALIDATION_FAILED' });
  }
  expect(await queueState()).toEqual(before);
  const anonymous = await api.inject({ method: 'GET', url: '/admin/queue' });
  expect(anonymous.statusCode).toBe(401);
});
