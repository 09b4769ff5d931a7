import { pino } from 'pino';
import { startTestApi, type TestApi } from '../support/api.js';
import { openSse, type SseEvent } from '../support/sse.js';

let api: TestApi;
/** Every line the server logged. */
const logged: string[] = [];
beforeAll(async () => {
  const logger = pino({ level: 'info' }, { write: (line: string) => logged.push(line) });
  api = await startTestApi({ MAX_ACTIVE_TOKENS: '1', TOKEN_TTL_SECONDS: '60' }, { logger });
});
afterAll(() => api.close());

async function join(userId: string): Promise<string> {
  const response = await api.inject({ method: 'POST', url: '/queue/tokens', payload: { userId } });
  return response.json<{ token: string }>().token;
}

const position = (event: SseEvent) =>
  JSON.parse(event.data) as { status: string; position: number };
const at = (place: number) => (event: SseEvent) =>
  event.event === 'token' && position(event).position === place;

it('pushes each waiting stream its new place as the line moves, and ends with an expired event', async () => {
  const [, second, third] = [await join('line-1'), await join('line-2'), await join('line-3')];
  const url = `${api.baseUrl}/queue/tokens/current/events`;
  const secondStream = await openSse(url, { 'x-queue-token': second });
  const thirdStream = await openSse(url, { 'x-queue-token': third });
  expect((await thirdStream.waitFor(at(3))).id).toMatch(/^h3e\d+$/);
  await secondStream.waitFor(at(2));

  await api.admit(); // the first user gets the one slot
  expect((await thirdStream.waitFor(at(2))).id).toMatch(/^h2e\d+$/);
  await secondStream.waitFor(at(1));

  api.system.testClock.advance(61);
  await api.admit(); // the first pass ran out: the second user is in
  const admitted = await secondStream.waitFor((event) => position(event).status === 'pass');
  expect(admitted.id).toBe('pass');
  await thirdStream.waitFor(at(1));

  api.system.testClock.advance(61);
  const expired = await secondStream.waitFor((event) => event.event === 'expired');
  expect(position(expired).status).toBe('expired');
  await secondStream.ended;
  thirdStream.close();
});

it('resumes after a reconnect with Last-Event-ID: an unchanged place is not sent again, a changed one at once', async () => {
  // Everyone ahead leaves the line first, so this test starts from an empty line.
  for (let i = 0; i < 5; i++) {
    api.system.testClock.advance(61);
    await api.admit();
  }
  const [, waiting] = [await join('resume-1'), await join('resume-2'), await join('resume-3')];
  const url = `${api.baseUrl}/queue/tokens/current/events`;
  const first = await openSse(url, { 'x-queue-token': waiting });
  const seen = await first.waitFor((event) => event.event === 'token');
  const before = position(seen).position;
  first.close();

  // Back with the id it last saw: nothing new to say until the line moves.
  const again = await openSse(url, { 'x-queue-token': waiting, 'last-event-id': seen.id! });
  expect(again.status).toBe(200);
  api.system.testClock.advance(61);
  await api.admit();
  const moved = await again.waitFor(at(before - 1));
  // The unchanged view was not repeated; the clock jump may have changed the estimate
  // alone first (news of its own, same place), never the view it already had.
  const earlier = again.events.slice(0, again.events.indexOf(moved));
  expect(earlier.every((event) => event.data !== seen.data)).toBe(true);
  expect(earlier.every((event) => position(event).position === before)).toBe(true);
  again.close();

  // The line moves while it is away: on reconnect it hears the new place at once.
  api.system.testClock.advance(61);
  await api.admit();
  const back = await openSse(url, { 'x-queue-token': waiting, 'last-event-id': moved.id! });
  const current = await back.waitFor((event) => event.event === 'token');
  expect(back.events[0]).toBe(current);
  expect(position(current)).toMatchObject({ status: 'pass', position: 0 });
  back.close();
});

it('lets a browser-style client follow the line with stream tickets, reopening with a fresh one', async () => {
  const token = await join('browser');
  const newTicket = async () =>
    (
      await api.inject({
        method: 'POST',
        url: '/queue/tokens/current/stream-ticket',
        headers: { 'x-queue-token': token },
      })
    ).json<{ ticket: string }>().ticket;
  const url = `${api.baseUrl}/queue/tokens/current/events?ticket=${await newTicket()}`;
  const source = await openSse(url);
  const first = await source.waitFor((event) => event.event === 'token');
  source.close();

  // EventSource reconnects to the same URL with Last-Event-ID, within the ticket's minute.
  const reconnected = await openSse(url, { 'last-event-id': first.id! });
  expect(reconnected.status).toBe(200);
  reconnected.close();

  // Later the same URL is refused (EventSource gives up); the page gets a new ticket.
  api.system.testClock.advance(61);
  const refused = await openSse(url);
  expect(refused.status).toBe(401);
  expect(JSON.parse(await refused.body())).toMatchObject({ code: 'TOKEN_INVALID' });
  const reopened = await openSse(
    `${api.baseUrl}/queue/tokens/current/events?ticket=${await newTicket()}`,
  );
  const current = await reopened.waitFor((event) => event.event !== undefined);
  expect(JSON.parse(current.data)).toMatchObject({ token });
  reopened.close();
});

it('sends the reply security headers on a stream, and counts open streams and their messages in /metrics', async () => {
  const metric = async (name: string) => {
    const metrics = await api.inject({ method: 'GET', url: '/metrics' });
    return Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics.body)?.[1]);
  };
  const gauge = () => metric('waiting_room_streams');
  const settled = async (count: number) => {
    for (let i = 0; i < 500 && (await gauge()) !== count; i++)
      await new Promise((resolve) => setTimeout(resolve, 20));
    return gauge();
  };
  // The earlier tests' streams are closed (their server side notices within moments).
  expect(await settled(0)).toBe(0);
  const sentBefore = await metric('waiting_room_messages_sent');
  const url = `${api.baseUrl}/queue/tokens/current/events`;
  const stream = await openSse(url, { 'x-queue-token': await join('gauge-1') });
  await stream.waitFor((event) => event.event === 'token');
  expect(await metric('waiting_room_messages_sent')).toBeGreaterThanOrEqual(sentBefore + 1);
  expect(await metric('waiting_room_pass_busy_seconds')).toBeGreaterThanOrEqual(0);
  expect(stream.headers['content-type']).toBe('text/event-stream');
  expect(stream.headers['x-content-type-options']).toBe('nosniff');
  expect(stream.headers['content-security-policy']).toBeDefined();
  expect(await gauge()).toBe(1);
  stream.close();
  await stream.ended;
  expect(await settled(0)).toBe(0);
});

it('logs one line when a stream opens, with its ticket redacted', async () => {
  const token = await join('logged-1');
  const { ticket } = (
    await api.inject({
      method: 'POST',
      url: '/queue/tokens/current/stream-ticket',
      headers: { 'x-queue-token': token },
    })
  ).json<{ ticket: string }>();
  const stream = await openSse(`${api.baseUrl}/queue/tokens/current/events?ticket=${ticket}`);
  await stream.waitFor((event) => event.event === 'token');
  stream.close();
  const opened = logged
    .map((line) => JSON.parse(line) as { msg: string; url?: string; status?: number })
    .filter((line) => line.msg.endsWith('stream opened'));
  expect(opened).toContainEqual(
    expect.objectContaining({
      url: '/queue/tokens/current/events?ticket=[redacted]',
      status: 200,
    }),
  );
  expect(logged.some((line) => line.includes(ticket))).toBe(false);
});
