import { buildApp } from '../../src/api/app.js';
import { startSystem } from '../../src/system.js';
import { adminKey, startTestApi, type TestApi } from '../support/api.js';
import { openSse } from '../support/sse.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi({ MAX_ACTIVE_TOKENS: '1' });
});
afterAll(() => api.close());

async function join(userId: string): Promise<string> {
  const response = await api.inject({ method: 'POST', url: '/queue/tokens', payload: { userId } });
  return response.json<{ token: string }>().token;
}

async function ticketFor(token: string, baseInject = api.inject) {
  const response = await baseInject({
    method: 'POST',
    url: '/queue/tokens/current/stream-ticket',
    headers: { 'x-queue-token': token },
  });
  expect(response.statusCode).toBe(200);
  return response.json<{ ticket: string; expiresAt: string }>();
}

it('opens the token stream with a stream ticket in the query, as a browser EventSource would', async () => {
  const token = await join('ticket-holder');
  const { ticket, expiresAt } = await ticketFor(token);
  expect(Date.parse(expiresAt) - api.system.clock().getTime()).toBe(60_000);

  const stream = await openSse(`${api.baseUrl}/queue/tokens/current/events?ticket=${ticket}`);
  expect(stream.status).toBe(200);
  expect(stream.headers['content-type']).toMatch(/^text\/event-stream/);
  const first = await stream.waitFor((event) => event.event === 'token');
  expect(JSON.parse(first.data)).toMatchObject({ token, status: 'hold', position: 1 });
  stream.close();
});

it('never carries the queue token in the ticket', async () => {
  const token = await join('ticket-secrecy');
  const { ticket } = await ticketFor(token);
  const decoded = Buffer.from(ticket, 'base64url').toString('hex');
  expect(ticket).not.toContain(token);
  expect(decoded).not.toContain(token.replaceAll('-', ''));
});

it('refuses an expired, altered or foreign ticket with 401 TOKEN_INVALID', async () => {
  const token = await join('ticket-refusals');
  const { ticket } = await ticketFor(token);
  const altered = Buffer.from(ticket, 'base64url');
  altered[20] = altered[20]! ^ 1;
  for (const bad of [altered.toString('base64url'), 'not-a-ticket', '']) {
    const response = await api.inject({
      method: 'GET',
      url: `/queue/tokens/current/events?ticket=${bad}`,
    });
    expect(response.statusCode).toBe(401);
    expect(response.json()).toMatchObject({ code: 'TOKEN_INVALID' });
  }

  api.system.testClock.advance(61);
  const late = await api.inject({
    method: 'GET',
    url: `/queue/tokens/current/events?ticket=${ticket}`,
  });
  expect(late.statusCode).toBe(401);
  expect(late.json<{ detail: string }>().detail).toMatch(/expired/);
});

it('accepts a ticket only on event streams, never in place of the token elsewhere', async () => {
  const token = await join('ticket-scope');
  const { ticket } = await ticketFor(token);
  const response = await api.inject({
    method: 'GET',
    url: `/queue/tokens/current?ticket=${ticket}`,
  });
  expect(response.statusCode).toBe(401);
  expect(response.json()).toMatchObject({ code: 'TOKEN_INVALID' });

  const noToken = await api.inject({ method: 'POST', url: '/queue/tokens/current/stream-ticket' });
  expect(noToken.statusCode).toBe(401);
});

it('opens a stream on another process of the same database with a ticket minted here', async () => {
  const token = await join('ticket-roaming');
  const { ticket } = await ticketFor(token);
  const other = await startSystem({
    config: api.system.config,
    clock: api.system.clock,
    projections: false,
    processes: false,
  });
  const otherApp = await buildApp({ system: other, adminApiKey: adminKey });
  try {
    const baseUrl = await otherApp.listen({ host: '127.0.0.1', port: 0 });
    const stream = await openSse(`${baseUrl}/queue/tokens/current/events?ticket=${ticket}`);
    expect(stream.status).toBe(200);
    const first = await stream.waitFor((event) => event.event === 'token');
    expect(JSON.parse(first.data)).toMatchObject({ token, status: 'hold' });
    stream.close();
  } finally {
    await otherApp.close();
    await other.close();
  }
});

it('documents the ticket in the OpenAPI document', async () => {
  const response = await api.inject({ method: 'GET', url: '/docs/json' });
  const document = response.json<{
    components: { securitySchemes: Record<string, { in: string; name: string }> };
    paths: Record<string, Record<string, { security?: unknown }>>;
  }>();
  expect(document.components.securitySchemes.streamTicket).toMatchObject({
    in: 'query',
    name: 'ticket',
  });
  expect(document.paths['/queue/tokens/current/stream-ticket']?.post).toBeDefined();
  const events = document.paths['/queue/tokens/current/events']?.get;
  expect(events?.security).toEqual([{ queueToken: [] }, { streamTicket: [] }]);
  // The `ticket` query parameter is described by its security scheme, not repeated as a parameter.
});
