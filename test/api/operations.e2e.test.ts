import { createConcert, adminKey, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

describe('operations', () => {
  it('reports health, readiness and metrics', async () => {
    expect((await api.inject({ method: 'GET', url: '/healthz' })).json()).toEqual({ status: 'ok' });
    const ready = await api.inject({ method: 'GET', url: '/readyz' });
    expect(ready.statusCode).toBe(200);
    expect(ready.json<{ status: string; projections: unknown[] }>()).toMatchObject({
      status: 'ready',
    });
    await api.inject({ method: 'GET', url: '/concerts' });
    const metrics = await api.inject({ method: 'GET', url: '/metrics' });
    expect(metrics.body).toContain('http_request_duration_seconds_bucket');
    expect(metrics.body).toMatch(/queue_waiting_tokens \d+/);
    expect(metrics.body).toContain('projection_events_applied{projection="tokens"}');
    expect(metrics.body).toMatch(/projection_lag_events\{projection="wallets"\} \d+/);
  });

  it('labels request latency with the method, route and status of each answer', async () => {
    // Found by a black-box tester: every method's unknown-route 404 was counted as GET.
    const count = async (labels: string) => {
      const metrics = (await api.inject({ method: 'GET', url: '/metrics' })).body;
      const line = metrics
        .split('\n')
        .find((text) => text.startsWith(`http_request_duration_seconds_count{${labels}}`));
      return line ? Number(line.split(' ').pop()) : 0;
    };
    const unknown = (method: string) => `method="${method}",route="unknown",status="404"`;
    const before = {
      get: await count(unknown('GET')),
      delete: await count(unknown('DELETE')),
      put: await count(unknown('PUT')),
    };
    await api.inject({ method: 'GET', url: '/no-such-route' });
    for (let i = 0; i < 2; i++) await api.inject({ method: 'DELETE', url: '/no-such-route' });
    for (let i = 0; i < 3; i++) await api.inject({ method: 'PUT', url: '/no-such-route' });
    expect(await count(unknown('GET'))).toBe(before.get + 1);
    expect(await count(unknown('DELETE'))).toBe(before.delete + 2);
    expect(await count(unknown('PUT'))).toBe(before.put + 3);
  });

  it('serves the OpenAPI document generated from the route schemas, and its UI', async () => {
    const document = (await api.inject({ method: 'GET', url: '/docs/json' })).json<{
      paths: Record<string, unknown>;
    }>();
    for (const path of [
      '/queue/tokens',
      '/queue/tokens/current',
      '/concerts/{concertId}/dates',
      '/concert-times/{concertTimeId}/seats',
      '/reservations',
      '/wallet/charges',
      '/payments',
      '/admin/concerts',
    ]) {
      expect(document.paths).toHaveProperty([path]);
    }
    const ui = await api.inject({ method: 'GET', url: '/docs' });
    expect([200, 302]).toContain(ui.statusCode);
  });
});

describe('admin', () => {
  it('prints the full history of a seat stream with positions and timestamps', async () => {
    const concert = await createConcert(api, 1);
    const seatId = concert.dates[0]!.seats[0]!.seatId;
    const token = await api.admittedUser('historian');
    await api.inject({
      method: 'POST',
      url: '/reservations',
      headers: { 'x-queue-token': token },
      payload: { concertTimeId: concert.dates[0]!.concertTimeId, seatId },
    });
    const history = await api.inject({
      method: 'GET',
      url: `/admin/streams/seat-${seatId}/events`,
      headers: { 'x-admin-key': adminKey },
    });
    expect(history.statusCode).toBe(200);
    const events =
      history.json<{ position: string; revision: number; type: string; createdAt: string }[]>();
    expect(events.map((event) => [event.revision, event.type])).toEqual([
      [0, 'SeatCreated'],
      [1, 'SeatHeld'],
    ]);
    expect(events[0]!.position).toMatch(/^\d+\/\d+$/);
    expect(Date.parse(events[1]!.createdAt)).not.toBeNaN();
    const concertStream = await api.inject({
      method: 'GET',
      url: `/admin/streams/concert-${concert.concertId}/events`,
      headers: { 'x-admin-key': adminKey },
    });
    expect(concertStream.json<{ type: string }[]>()[0]!.type).toBe('ConcertScheduled');
    const missing = await api.inject({
      method: 'GET',
      url: '/admin/streams/seat-nope/events',
      headers: { 'x-admin-key': adminKey },
    });
    expect(missing.statusCode).toBe(404);
  });

  it('lists every projection with its checkpoint, lag and status', async () => {
    const response = await api.inject({
      method: 'GET',
      url: '/admin/projections',
      headers: { 'x-admin-key': adminKey },
    });
    const projections =
      response.json<{ name: string; lag: number; status: string; checkpoint: string }[]>();
    expect(projections.map((projection) => projection.name).sort()).toEqual([
      'available-dates',
      'available-seats',
      'payments',
      'reservations',
      'seat-map',
      'tokens',
      'wallets',
    ]);
    for (const projection of projections) {
      expect(projection.status).toBe('running');
      expect(projection.lag).toBe(0);
    }
  });
});

describe('server-sent token events', () => {
  it('pushes the token when it is admitted and a final event when it expires', async () => {
    const issued = await api.inject({
      method: 'POST',
      url: '/queue/tokens',
      payload: { userId: 'streamer' },
    });
    const token = issued.json<{ token: string }>().token;
    const controller = new AbortController();
    const response = await fetch(`${api.baseUrl}/queue/tokens/current/events`, {
      headers: { 'x-queue-token': token },
      signal: controller.signal,
    });
    expect(response.headers.get('content-type')).toBe('text/event-stream');
    const reader = response.body!.getReader();
    const decoder = new TextDecoder();
    let received = '';
    const readUntil = async (marker: string) => {
      const deadline = Date.now() + 10_000;
      while (!received.includes(marker) && Date.now() < deadline) {
        const { value, done } = (await reader.read()) as { value?: Uint8Array; done: boolean };
        if (done) break;
        received += decoder.decode(value);
      }
      expect(received).toContain(marker);
    };
    await readUntil('"status":"hold"');
    await api.admit();
    await readUntil('"status":"pass"');
    // Paying expires the token; here the pass simply runs out.
    api.system.testClock.advance(api.system.config.TOKEN_TTL_SECONDS + 1);
    await readUntil('event: expired');
    controller.abort();
  });
});
