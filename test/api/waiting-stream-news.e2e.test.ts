import { adminKey, startTestApi, type TestApi } from '../support/api.js';
import { openSse, type SseEvent } from '../support/sse.js';

// News for waiting streams other than a move: a new estimate while the place stands still,
// and the pre-queue's shared payload (the opening moved, the draw, a revocation).
let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ MAX_ACTIVE_TOKENS: '1', TOKEN_TTL_SECONDS: '20' });
});
afterAll(() => api.close());

const admin = { 'x-admin-key': adminKey };
const settle = (payload: Record<string, unknown>) =>
  api.inject({ method: 'PATCH', url: '/admin/queue', headers: admin, payload });
async function join(userId: string): Promise<string> {
  const response = await api.inject({ method: 'POST', url: '/queue/tokens', payload: { userId } });
  return response.json<{ token: string }>().token;
}
const body = (event: SseEvent) =>
  JSON.parse(event.data) as {
    position: number | null;
    estimatedWaitSeconds: number | null;
    prequeue?: true;
    opensAt?: string;
    status: string;
  };
const url = () => `${api.baseUrl}/queue/tokens/current/events`;

it('pushes a change of estimate alone: a pause (null), a resume, a slower rate', async () => {
  await join('estimate-1');
  await api.admit(); // the one slot is taken: the others wait at fixed places
  await join('estimate-2');
  const third = await join('estimate-3');
  const stream = await openSse(url(), { 'x-queue-token': third });
  const first = await stream.waitFor((event) => event.event === 'token');
  expect(first.id).toBe(`h2e${body(first).estimatedWaitSeconds}`);
  const before = body(first).estimatedWaitSeconds;
  expect(before).toEqual(expect.any(Number));

  expect((await settle({ mode: 'paused' })).statusCode).toBe(200);
  const paused = await stream.waitFor((event) => body(event).estimatedWaitSeconds === null);
  expect(paused.id).toBe('h2e'); // the place did not move, only the estimate (none while paused)
  expect(body(paused).position).toBe(2);

  expect((await settle({ mode: 'open', admissionsPerMinute: 1 })).statusCode).toBe(200);
  // 20 s passes would let it in after about 40 s; one admission a minute (one used this
  // minute) makes it about two minutes.
  const slower = await stream.waitFor((event) => (body(event).estimatedWaitSeconds ?? 0) >= 60);
  expect(slower.id).toBe(`h2e${body(slower).estimatedWaitSeconds}`);
  expect(body(slower).estimatedWaitSeconds).toBeGreaterThan(before!);
  // Each change was told once, not repeated every round.
  const told = stream.events.filter((event) => event.event === 'token');
  expect(told.map((event) => body(event).estimatedWaitSeconds === null)).toEqual([
    false,
    true,
    false,
  ]);
  stream.close();
  await settle({ admissionsPerMinute: null });
});

it('tells pre-queued streams the moved opening, places them at the draw, ends a revoked one', async () => {
  // Everyone before leaves the line, so the draw below is the only news.
  for (let i = 0; i < 4; i++) {
    api.system.testClock.advance(61);
    await api.admit();
  }
  const opensAt = new Date(api.system.clock().getTime() + 3_600_000).toISOString();
  expect((await settle({ opensAt })).statusCode).toBe(200);
  const [one, two] = [await join('prequeue-1'), await join('prequeue-2')];
  const streams = [
    await openSse(url(), { 'x-queue-token': one }),
    await openSse(url(), { 'x-queue-token': two }),
  ];
  for (const stream of streams) {
    const told = body(await stream.waitFor((event) => event.event === 'token'));
    expect(told).toMatchObject({ position: null, prequeue: true, opensAt });
    expect(told.estimatedWaitSeconds).toBeNull();
  }

  const later = new Date(Date.parse(opensAt) + 600_000).toISOString();
  expect((await settle({ opensAt: later })).statusCode).toBe(200);
  for (const stream of streams) {
    const moved = await stream.waitFor((event) => body(event).opensAt === later);
    expect(moved.id).toBe(`q${Date.parse(later)}`);
    expect(body(moved)).toMatchObject({ position: null, prequeue: true, status: 'hold' });
    expect(moved.data).toMatch(/"token":"[^"]+"/); // each stream's own fields stay in
  }

  // A revoked pre-queued token's stream ends with an expired event, and hears nothing
  // else after the revocation, not even an opening moved right after it (found by a
  // black-box tester: it heard the new opening, then ended seconds later). A second
  // passes first, so that the one-message-a-second rule would not hide such a message.
  await new Promise((resolve) => setTimeout(resolve, 1100));
  const heardBefore = streams[1]!.events.length;
  const revoked = await api.inject({
    method: 'POST',
    url: '/admin/queue/revocations',
    headers: admin,
    payload: { userId: 'prequeue-2' },
  });
  expect(revoked.statusCode).toBe(200);
  expect(
    (await settle({ opensAt: new Date(Date.parse(later) + 60_000).toISOString() })).statusCode,
  ).toBe(200);
  const ended = await streams[1]!.waitFor((event) => event.event === 'expired');
  expect(body(ended)).toMatchObject({ status: 'expired' });
  await streams[1]!.ended;
  expect(streams[1]!.events.slice(heardBefore).map((event) => event.event)).toEqual(['expired']);

  // Opening now: the draw places the remaining one, and its stream hears the place.
  expect((await settle({ opensAt: null })).statusCode).toBe(200);
  await api.admit();
  const placed = await streams[0]!.waitFor(
    (event) => event.event === 'token' && body(event).prequeue === undefined,
  );
  expect(body(placed).status === 'pass' || (body(placed).position ?? 0) >= 1).toBe(true);
  expect(body(placed).opensAt).toBeUndefined();
  streams[0]!.close();
});

// Found by a black-box tester: a waiting token revoked by an operator kept hearing its
// old place until the line reached it (and never, while the queue was paused).
it('ends a revoked waiting token stream with an expired event, and the line closes up', async () => {
  expect(
    (await settle({ mode: 'open', admissionsPerMinute: null, opensAt: null })).statusCode,
  ).toBe(200);
  const [, , leaving, behind] = [
    await join('revoke-wait-1'),
    await join('revoke-wait-2'),
    await join('revoke-wait-3'),
    await join('revoke-wait-4'),
  ];
  expect((await settle({ mode: 'paused' })).statusCode).toBe(200);
  const leavingStream = await openSse(url(), { 'x-queue-token': leaving });
  const behindStream = await openSse(url(), { 'x-queue-token': behind });
  const place = body(await behindStream.waitFor((event) => event.event === 'token')).position!;
  await leavingStream.waitFor((event) => event.event === 'token');

  const revoked = await api.inject({
    method: 'POST',
    url: '/admin/queue/revocations',
    headers: admin,
    payload: { userId: 'revoke-wait-3' },
  });
  expect(revoked.statusCode).toBe(200);
  const ended = await leavingStream.waitFor((event) => event.event === 'expired');
  expect(body(ended)).toMatchObject({ status: 'expired' });
  await leavingStream.ended;
  // The one behind moves up into the place that was left.
  await behindStream.waitFor(
    (event) => event.event === 'token' && body(event).position === place - 1,
  );
  behindStream.close();
});
