import {
  adminKey,
  createConcert,
  startTestApi,
  type HttpRequest,
  type TestApi,
} from '../support/api.js';
import { Contract, type OpenApiDocument } from '../support/openapi-contract.js';
import { errorCodesOf, registeredRoutes, securityOf } from '../../src/api/openapi/document.js';
import { operations } from '../../src/api/openapi/operations.js';
import { statusOf } from '../../src/api/problem-details.js';

/**
 * The OpenAPI document is a contract a client can generate from: the booking walk and the
 * error cases, each answer checked against /docs/json (status documented for that route,
 * media type, body schema, and for problems the `code` enum of that route and status).
 */
let api: TestApi;
let contract: Contract;
beforeAll(async () => {
  api = await startTestApi();
  const document = await api.inject({ method: 'GET', url: '/docs/json' });
  expect(document.statusCode).toBe(200);
  contract = new Contract(document.json<OpenApiDocument>());
});
afterAll(() => api.close());

/** Sends a request and holds its answer to the document; returns the answer. */
async function call(request: HttpRequest, expectedStatus: number) {
  const response = await api.inject(request);
  contract.check(request.method, request.url, response);
  expect(response.statusCode).toBe(expectedStatus);
  return response;
}

/** Opens an event stream, checks its status and media type against the document, closes it. */
async function openStream(url: string, headers: Record<string, string>, expectedStatus: number) {
  const aborted = new AbortController();
  const response = await fetch(api.baseUrl + url, { headers, signal: aborted.signal });
  const body = response.ok ? '' : await response.text();
  aborted.abort();
  contract.check('GET', url, {
    statusCode: response.status,
    headers: response.headers,
    body,
    json: <T>() => JSON.parse(body) as T,
  });
  expect(response.status).toBe(expectedStatus);
}

const queue = (token: string) => ({ 'x-queue-token': token });
const admin = { 'x-admin-key': adminKey };

it('documents every answer of the booking walk', async () => {
  await call({ method: 'GET', url: '/concerts' }, 200);
  const concert = await createConcert(api, 3);
  const concertTimeId = concert.dates[0]!.concertTimeId;
  const seatId = concert.dates[0]!.seats[0]!.seatId;

  const issued = await call(
    { method: 'POST', url: '/queue/tokens', payload: { userId: 'contract-walker' } },
    201,
  );
  const token = issued.json<{ token: string }>().token;
  await call({ method: 'POST', url: '/queue/tokens', payload: { userId: 'contract-walker' } }, 200);
  await call({ method: 'GET', url: '/queue/tokens/current', headers: queue(token) }, 200);
  await call(
    { method: 'GET', url: `/concerts/${concert.concertId}/dates`, headers: queue(token) },
    403,
  );
  await api.admit();
  await call(
    { method: 'GET', url: `/concerts/${concert.concertId}/dates`, headers: queue(token) },
    200,
  );
  await call(
    { method: 'GET', url: `/concert-times/${concertTimeId}/seats`, headers: queue(token) },
    200,
  );
  await call(
    { method: 'GET', url: `/concert-times/${concertTimeId}/seat-map`, headers: queue(token) },
    200,
  );
  const ticket = await call(
    { method: 'POST', url: '/queue/tokens/current/stream-ticket', headers: queue(token) },
    200,
  );
  await openStream(
    `/queue/tokens/current/events?ticket=${encodeURIComponent(ticket.json<{ ticket: string }>().ticket)}`,
    {},
    200,
  );
  await openStream(`/concert-times/${concertTimeId}/seat-map/events`, queue(token), 200);

  const held = await call(
    {
      method: 'POST',
      url: '/reservations',
      headers: queue(token),
      payload: { concertTimeId, seatId },
    },
    201,
  );
  const reservationId = held.json<{ reservationId: string }>().reservationId;
  await call({ method: 'GET', url: `/reservations/${reservationId}`, headers: queue(token) }, 200);
  await call(
    { method: 'POST', url: '/payments', headers: queue(token), payload: { reservationId } },
    409,
  );
  await call(
    { method: 'POST', url: '/wallet/charges', headers: queue(token), payload: { amount: 50_000 } },
    200,
  );
  await call({ method: 'GET', url: '/wallet', headers: queue(token) }, 200);
  await call(
    { method: 'POST', url: '/payments', headers: queue(token), payload: { reservationId } },
    201,
  );
  await call({ method: 'GET', url: '/wallet', headers: queue(token) }, 403);

  // The operator's view of the same walk.
  await call({ method: 'GET', url: `/admin/streams/seat-${seatId}/events`, headers: admin }, 200);
  await call({ method: 'GET', url: `/admin/streams/seat-${seatId}/state`, headers: admin }, 200);
  await call({ method: 'GET', url: '/admin/users/contract-walker/trace', headers: admin }, 200);
  await call({ method: 'GET', url: '/admin/projections', headers: admin }, 200);
  await call({ method: 'GET', url: '/admin/queue', headers: admin }, 200);
  await call(
    { method: 'PATCH', url: '/admin/queue', headers: admin, payload: { maxActive: 1000 } },
    200,
  );
  await call({ method: 'GET', url: '/healthz' }, 200);
  await call({ method: 'GET', url: '/readyz' }, 200);
  await call({ method: 'GET', url: '/metrics' }, 200);
});

it('documents the error answers, each with a code of that route', async () => {
  const concert = await createConcert(api, 2);
  const concertTimeId = concert.dates[0]!.concertTimeId;
  const seatId = concert.dates[0]!.seats[0]!.seatId;
  const buyer = await api.admittedUser('contract-buyer');
  const rival = await api.admittedUser('contract-rival');

  // Bad input: schema, media type, size, path parameter length.
  await call({ method: 'POST', url: '/queue/tokens', payload: { userId: 'no spaces!' } }, 400);
  await call({ method: 'POST', url: '/queue/tokens', payload: '{"userId":' }, 400);
  await call(
    {
      method: 'POST',
      url: '/queue/tokens',
      headers: { 'content-type': 'text/plain' },
      payload: 'userId=x',
    },
    415,
  );
  await call(
    { method: 'POST', url: '/queue/tokens', payload: { userId: 'x'.repeat(70 * 1024) } },
    413,
  );
  await call(
    { method: 'GET', url: `/concerts/${'c'.repeat(120)}/dates`, headers: queue(buyer) },
    414,
  );
  await call({ method: 'GET', url: '/concerts/not%20an%20id/dates', headers: queue(buyer) }, 400);
  await call(
    { method: 'POST', url: '/wallet/charges', headers: queue(buyer), payload: { amount: 0 } },
    400,
  );

  // Credentials.
  await call({ method: 'GET', url: '/queue/tokens/current' }, 401);
  await call({ method: 'GET', url: '/wallet', headers: queue('not-a-token') }, 401);
  await openStream('/queue/tokens/current/events?ticket=forged', {}, 401);
  await call({ method: 'GET', url: '/admin/queue' }, 401);
  await call({ method: 'GET', url: '/admin/queue', headers: { 'x-admin-key': 'wrong' } }, 401);

  // Unknown resources.
  await call({ method: 'GET', url: '/concerts/no-such-concert/dates', headers: queue(buyer) }, 404);
  await call(
    { method: 'GET', url: '/concert-times/no-such-time/seats', headers: queue(buyer) },
    404,
  );
  await call(
    { method: 'GET', url: '/concert-times/no-such-time/seat-map', headers: queue(buyer) },
    404,
  );
  await openStream('/concert-times/no-such-time/seat-map/events', queue(buyer), 404);
  await call({ method: 'GET', url: '/reservations/no-such-hold', headers: queue(buyer) }, 404);
  await call(
    { method: 'POST', url: '/payments', headers: queue(buyer), payload: { reservationId: 'none' } },
    404,
  );
  await call({ method: 'GET', url: '/admin/streams/seat-none/events', headers: admin }, 404);
  await call({ method: 'GET', url: '/admin/streams/seat-none/state', headers: admin }, 404);
  await call({ method: 'GET', url: '/admin/users/nobody-at-all/trace', headers: admin }, 404);
  await call({ method: 'POST', url: '/admin/projections/none/rebuild', headers: admin }, 404);
  await call(
    {
      method: 'POST',
      url: '/admin/queue/revocations',
      headers: admin,
      payload: { userId: 'nobody' },
    },
    404,
  );

  // Refusals by the current state.
  await call(
    {
      method: 'POST',
      url: '/reservations',
      headers: queue(buyer),
      payload: { concertTimeId, seatId },
    },
    201,
  );
  await call(
    {
      method: 'POST',
      url: '/reservations',
      headers: queue(rival),
      payload: { concertTimeId, seatId },
    },
    409,
  );
  await call(
    {
      method: 'POST',
      url: '/wallet/charges',
      headers: { ...queue(rival), 'idempotency-key': 'contract-key' },
      payload: { amount: 10 },
    },
    200,
  );
  await call(
    {
      method: 'POST',
      url: '/wallet/charges',
      headers: { ...queue(rival), 'idempotency-key': 'contract-key' },
      payload: { amount: 20 },
    },
    409,
  );
  await call(
    {
      method: 'PATCH',
      url: '/admin/queue',
      headers: admin,
      payload: { opensAt: '2000-01-01T00:00:00Z' },
    },
    400,
  );
  await call(
    { method: 'POST', url: '/admin/concerts', headers: admin, payload: { title: '', dates: [] } },
    400,
  );
  await call(
    {
      method: 'POST',
      url: '/admin/queue/revocations',
      headers: admin,
      payload: { userId: 'contract-rival' },
    },
    200,
  );
  await call({ method: 'GET', url: '/wallet', headers: queue(rival) }, 403);
  await call({ method: 'GET', url: '/queue/tokens/current', headers: queue(rival) }, 200);
});

it('fails an answer the document does not describe', () => {
  const answer = (statusCode: number, body: string, type = 'application/problem+json') => ({
    statusCode,
    headers: new Headers({ 'content-type': type }),
    body,
    json: <T>() => JSON.parse(body) as T,
  });
  const problem = (code: string, status: number) =>
    JSON.stringify({ type: '/problems/x', title: 'X', status, detail: 'x', code });
  expect(() => contract.check('GET', '/wallet', answer(404, problem('NOT_FOUND', 404)))).toThrow(
    /status not documented/,
  );
  expect(() =>
    contract.check('GET', '/wallet', answer(401, problem('ADMIN_KEY_INVALID', 401))),
  ).toThrow(/does not match the documented schema/);
  expect(() => contract.check('GET', '/wallet', answer(200, '{}', 'text/html'))).toThrow(
    /content type text\/html not documented/,
  );
  expect(() => contract.check('GET', '/nowhere', answer(200, '{}'))).toThrow(/not in the OpenAPI/);
});

describe('every registered route', () => {
  /** Pages and the docs UI: not part of the API, deliberately hidden from the document. */
  const hidden = new Set(['/', '/admin', '/assets/:file']);
  const isHidden = (url: string) => hidden.has(url) || url === '/docs' || url.startsWith('/docs/');

  const apiRoutes = () =>
    registeredRoutes(api.app).flatMap((route) =>
      (Array.isArray(route.method) ? route.method : [route.method])
        .filter((method) => method !== 'HEAD')
        .map((method) => ({ route, method: String(method) })),
    );

  it('hides only the pages and the docs UI', () => {
    const hiddenRoutes = apiRoutes().filter(({ route }) => route.schema?.hide === true);
    expect(hiddenRoutes.length).toBeGreaterThan(0);
    for (const { route } of hiddenRoutes)
      expect({ url: route.url, hidden: isHidden(route.url) }).toEqual({
        url: route.url,
        hidden: true,
      });
  });

  it('is in the document with an operationId, its security and its error responses', () => {
    const operationIds = new Set<string>();
    let checked = 0;
    for (const { route, method } of apiRoutes()) {
      if (isHidden(route.url)) continue;
      checked += 1;
      const where = `${method} ${route.url}`;
      const path = route.url.replace(/:([A-Za-z0-9_]+)/g, '{$1}');
      const operation = contract.document.paths[path]?.[method.toLowerCase()];
      expect({ where, documented: operation !== undefined }).toEqual({ where, documented: true });
      const operationId = operation!.operationId ?? '';
      const doc = operations[operationId];
      expect({ where, operationId, inTable: doc !== undefined }).toEqual({
        where,
        operationId,
        inTable: true,
      });
      expect(operationIds.has(operationId)).toBe(false);
      operationIds.add(operationId);
      const access = route.config?.access ?? 'public';
      expect({ where, security: operation!.security }).toEqual({
        where,
        security: securityOf(access, route.config?.streamTicket === true, 'demo'),
      });
      // Every code the route can answer is under its status, as application/problem+json.
      const facts = {
        method,
        url: route.url,
        access,
        schema: (route.schema ?? {}) as Record<string, unknown>,
      };
      for (const code of errorCodesOf(facts, doc!, 'demo')) {
        const status = String(statusOf[code]);
        const schema = operation!.responses[status]?.content?.['application/problem+json']
          ?.schema as { properties: { code: { enum: string[] } } } | undefined;
        // /readyz answers its own 503 body (not a problem), so it has no problem 503.
        if (operationId === 'getReadiness' && status === '503') continue;
        expect({ where, code, documented: schema?.properties.code.enum.includes(code) }).toEqual({
          where,
          code,
          documented: true,
        });
      }
      for (const [status, response] of Object.entries(operation!.responses))
        expect({ where, status, description: response.description }).not.toEqual({
          where,
          status,
          description: 'Default Response',
        });
    }
    expect(checked).toBe(Object.keys(operations).length);
  });
});
