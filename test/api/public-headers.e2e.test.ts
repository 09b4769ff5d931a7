import { adminKey, createConcert, startTestApi, type TestApi } from '../support/api.js';

/** What a public service sends: security headers, closed CORS, a usable /docs. */
let api: TestApi;
let withCors: TestApi;
beforeAll(async () => {
  api = await startTestApi();
  withCors = await startTestApi({ CORS_ORIGINS: 'https://app.example.com' });
});
afterAll(async () => {
  await api.close();
  await withCors.close();
});

const preflight = (target: TestApi, origin: string) =>
  fetch(`${target.baseUrl}/queue/tokens`, {
    method: 'OPTIONS',
    headers: {
      origin,
      'access-control-request-method': 'POST',
      'access-control-request-headers': 'authorization, content-type',
    },
  });

it('sends helmet security headers on API answers and on problems', async () => {
  for (const response of [
    await api.inject({ method: 'GET', url: '/concerts' }),
    await api.inject({ method: 'GET', url: '/no-such-route' }),
  ]) {
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
    expect(response.headers.get('x-frame-options')).toBe('SAMEORIGIN');
    expect(response.headers.get('content-security-policy')).toContain("default-src 'self'");
  }
});

it('still serves the Swagger UI at /docs under the content security policy', async () => {
  const page = await api.inject({ method: 'GET', url: '/docs/' });
  expect(page.statusCode).toBe(200);
  expect(page.headers.get('content-type')).toContain('text/html');
  const policy = page.headers.get('content-security-policy')!;
  // The page loads only its own scripts, no inline ones, so script-src 'self' suffices.
  expect(policy).toContain("script-src 'self'");
  expect(page.body).not.toMatch(/<script>(?!\s*<\/script>)/);
  // On plain HTTP this directive would send the UI's own assets to https:// and break it.
  expect(policy).not.toContain('upgrade-insecure-requests');
  const assets = [...page.body.matchAll(/(?:src|href)="\.\/(static\/[^"]+)"/g)].map((m) => m[1]);
  expect(assets.length).toBeGreaterThanOrEqual(4);
  for (const asset of assets)
    expect((await api.inject({ method: 'GET', url: `/docs/${asset}` })).statusCode).toBe(200);
  expect((await api.inject({ method: 'GET', url: '/docs/json' })).statusCode).toBe(200);
});

it('keeps CORS closed when CORS_ORIGINS is not set', async () => {
  const response = await preflight(api, 'https://app.example.com');
  expect(response.headers.get('access-control-allow-origin')).toBeNull();
  const simple = await api.inject({
    method: 'GET',
    url: '/concerts',
    headers: { origin: 'https://app.example.com' },
  });
  expect(simple.headers.get('access-control-allow-origin')).toBeNull();
});

it('opens CORS to the listed origins only', async () => {
  const allowed = await preflight(withCors, 'https://app.example.com');
  expect(allowed.status).toBe(204);
  expect(allowed.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
  expect(allowed.headers.get('access-control-allow-headers')).toContain('authorization');
  const other = await preflight(withCors, 'https://evil.example.com');
  expect(other.headers.get('access-control-allow-origin')).toBeNull();
});

/** Opens an event stream from a listed origin: its head carries CORS and helmet headers. */
async function expectStreamHeaders(path: string, token: string) {
  const abort = new AbortController();
  const response = await fetch(`${withCors.baseUrl}${path}`, {
    headers: { 'x-queue-token': token, origin: 'https://app.example.com' },
    signal: abort.signal,
  });
  try {
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/event-stream');
    expect(response.headers.get('access-control-allow-origin')).toBe('https://app.example.com');
    expect(response.headers.get('x-content-type-options')).toBe('nosniff');
  } finally {
    abort.abort();
  }
}

it('sends the CORS and security headers on the event stream too', async () => {
  const token = (
    await withCors.inject({ method: 'POST', url: '/queue/tokens', payload: { userId: 'sse-cors' } })
  ).json<{ token: string }>().token;
  await expectStreamHeaders('/queue/tokens/current/events', token);
});

// Found by a black-box tester: the seat-map stream sent no CORS headers (and nothing at
// all until its first event or heartbeat), so a page on a listed origin could not follow it.
it('sends the CORS and security headers on the seat-map stream at once', async () => {
  const concert = await createConcert(withCors, 1);
  const token = await withCors.admittedUser('seat-map-cors');
  await expectStreamHeaders(
    `/concert-times/${concert.dates[0]!.concertTimeId}/seat-map/events`,
    token,
  );
});

it('says in the OpenAPI document that demo mode trusts the body userId', async () => {
  const document = (await api.inject({ method: 'GET', url: '/docs/json' })).json<{
    paths: Record<string, Record<string, { security?: unknown; description?: string }>>;
  }>();
  const join = document.paths['/queue/tokens']!.post!;
  expect(join.security).toEqual([{ bearerJwt: [] }, {}]);
  expect(join.description).toContain('anyone can act as any user');
});

it('accepts only the exact admin key, whatever the length of a wrong one', async () => {
  for (const key of ['x', adminKey.slice(0, -1), `${adminKey}x`, adminKey.replace(/.$/, '!')]) {
    const response = await api.inject({
      method: 'GET',
      url: '/admin/projections',
      headers: { 'x-admin-key': key },
    });
    expect(response.statusCode).toBe(401);
  }
  const ok = await api.inject({
    method: 'GET',
    url: '/admin/projections',
    headers: { 'x-admin-key': adminKey },
  });
  expect(ok.statusCode).toBe(200);
});
