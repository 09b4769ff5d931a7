import http from 'node:http';
import type net from 'node:net';
import { SseChannel } from '../../src/api/sse.js';
import { WaitingRoom, defaultWaitingRoomOptions } from '../../src/api/waiting-room.js';
import type { LineSnapshot } from '../../src/queries/queue-estimate.js';
import type { TokenView } from '../../src/queries/tokens.js';
import { startTestApi, type TestApi } from '../support/api.js';
import { openSse, type SseEvent } from '../support/sse.js';

// A reconnect must get its current state at once. Here the line's snapshot is one object
// that only the test replaces, so nothing but the reconnect itself can make the room speak
// to the reconnected stream (in the service a new snapshot comes every second).
const line = (mode: 'open' | 'paused'): LineSnapshot => ({
  settings: { mode, maxActive: 1, admissionsPerMinute: null, opensAt: null },
  takenAt: Date.now(),
  activeRemaining: [50],
  meanPassSeconds: 60,
  ttlSeconds: 60,
  roundTimes: [],
  refillLags: [],
  admittedLastMinute: 1,
  admissionIntervalSeconds: 1,
  secondsToOpening: 0,
});

let api: TestApi;
let current = line('open');
let room: WaitingRoom;
let server: http.Server;
let url: string;
beforeAll(async () => {
  api = await startTestApi({ MAX_ACTIVE_TOKENS: '1', TOKEN_TTL_SECONDS: '60' });
  room = new WaitingRoom(
    { db: api.system.db, clock: api.system.clock, line: () => Promise.resolve(current) },
    // Slices of no time at all: a pass lets the event loop turn every 32 streams.
    { ...defaultWaitingRoomOptions, pollMs: 20, minMessageIntervalMs: 0, passSliceMs: 0 },
  );
  // Authenticates as the service does (the token's view), then hands the stream to the room.
  server = http.createServer((request, response) => {
    const token = String(request.headers['x-queue-token']);
    const lastEventId = request.headers['last-event-id'];
    void api
      .inject({ method: 'GET', url: '/queue/tokens/current', headers: { 'x-queue-token': token } })
      .then((found) => {
        const { estimatedWaitSeconds: _estimate, ...view } = found.json<
          TokenView & { estimatedWaitSeconds: unknown }
        >();
        return room.open(response, view, { lastEventId: lastEventId as string | undefined });
      });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  url = `http://127.0.0.1:${(server.address() as net.AddressInfo).port}/`;
});
afterAll(async () => {
  room.close();
  await new Promise((resolve) => server.close(resolve));
  await api.close();
});

async function join(userId: string): Promise<string> {
  const response = await api.inject({ method: 'POST', url: '/queue/tokens', payload: { userId } });
  return response.json<{ token: string }>().token;
}
const estimate = (event: SseEvent) =>
  (JSON.parse(event.data) as { estimatedWaitSeconds: number | null }).estimatedWaitSeconds;
const token = (event: SseEvent) => event.event === 'token';

it('tells a reconnect with an unchanged place its current estimate at once, and repeats nothing it already has', async () => {
  await join('resume-1');
  await api.admit(); // the one slot is taken: the others wait at fixed places
  const [second, third] = [await join('resume-2'), await join('resume-3')];
  // Another stream keeps the room running while the third is away.
  const keeper = await openSse(url, { 'x-queue-token': second });
  await keeper.waitFor(token);
  const away = await openSse(url, { 'x-queue-token': third });
  const seen = await away.waitFor(token);
  expect(estimate(seen)).toEqual(expect.any(Number));
  away.close();

  // The queue pauses while it is away: the keeper hears it, the third is not there.
  current = line('paused');
  await keeper.waitFor((event) => token(event) && estimate(event) === null);

  // Back with the id it last saw (same place, old estimate): the current state at once.
  const back = await openSse(url, { 'x-queue-token': third, 'last-event-id': seen.id! });
  const told = await back.waitFor(token, 'the current estimate');
  expect(estimate(told)).toBeNull();
  expect(JSON.parse(told.data)).toMatchObject({ position: 2, status: 'hold' });
  back.close();

  // Back again with the id of what it has now: nothing is repeated; the next news is news.
  const again = await openSse(url, { 'x-queue-token': third, 'last-event-id': told.id! });
  current = line('open');
  const resumed = await again.waitFor(token, 'the resume');
  expect(again.events.filter(token)[0]).toBe(resumed);
  expect(estimate(resumed)).toEqual(expect.any(Number));
  again.close();
  keeper.close();
}, 30_000);

it('writes a move to many streams in slices, letting the event loop turn between them', async () => {
  current = line('open');
  const tokens = [];
  for (let i = 0; i < 100; i++) tokens.push(await join(`slice-${i}`));
  const streams = await Promise.all(tokens.map((t) => openSse(url, { 'x-queue-token': t })));
  await Promise.all(streams.map((stream) => stream.waitFor(token)));

  // Counts the turns of the event loop; each write notes the count it was made at.
  let turns = 0;
  let counting = true;
  const count = () => {
    turns++;
    if (counting) setImmediate(count);
  };
  const writtenAt: number[] = [];
  const send = SseChannel.prototype.send;
  SseChannel.prototype.send = function (this: SseChannel<never>, ...args) {
    writtenAt.push(turns);
    return send.apply(this, args);
  };
  try {
    setImmediate(count);
    // The pause changes every waiting stream's estimate: one pass writes to all of them.
    current = line('paused');
    await Promise.all(
      streams.map((stream) =>
        stream.waitFor((event) => token(event) && estimate(event) === null, 'the pause'),
      ),
    );
  } finally {
    SseChannel.prototype.send = send;
    counting = false;
  }
  expect(writtenAt.length).toBeGreaterThanOrEqual(100);
  // Unsliced, the whole pass would run within one turn: one distinct count.
  expect(new Set(writtenAt).size).toBeGreaterThanOrEqual(3);
  for (const stream of streams) stream.close();
}, 60_000);
