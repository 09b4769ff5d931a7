import { randomUUID } from 'node:crypto';
import { comparePositions } from '../../src/events/store/port.js';
import {
  adminKey,
  createConcert,
  startTestApi,
  type HttpRequest,
  type TestApi,
} from '../support/api.js';

let api: TestApi;
let token: string;
let concert: Awaited<ReturnType<typeof createConcert>>;
beforeAll(async () => {
  api = await startTestApi({ MAX_CHARGE_AMOUNT: '1000000' });
  token = await api.admittedUser('careful');
  concert = await createConcert(api, 3);
});
afterAll(() => api.close());

/** Sends a request that must be refused, and checks that the log did not move. */
async function expectRefused(request: HttpRequest, status: number, code: string) {
  const before = await api.system.store.headPosition();
  const response = await api.inject(request);
  expect({ status: response.statusCode, code: response.json<{ code: string }>().code }).toEqual({
    status,
    code,
  });
  expect(response.headers.get('content-type')).toMatch(/^application\/problem\+json/);
  const body = response.json<{ type: string; title: string; status: number; detail: string }>();
  expect(body.status).toBe(status);
  expect(typeof body.detail).toBe('string');
  expect(typeof body.type).toBe('string');
  expect(typeof body.title).toBe('string');
  expect(comparePositions(await api.system.store.headPosition(), before)).toBe(0);
  return body;
}

const withToken = (extra: Record<string, string> = {}) => ({ 'x-queue-token': token, ...extra });

describe('malformed requests', () => {
  it('refuses malformed JSON', async () => {
    await expectRefused(
      { method: 'POST', url: '/wallet/charges', headers: withToken(), payload: '{"amount": 10' },
      400,
      'VALIDATION_FAILED',
    );
  });

  it('refuses a body that is not JSON', async () => {
    await expectRefused(
      {
        method: 'POST',
        url: '/wallet/charges',
        headers: withToken({ 'content-type': 'text/plain' }),
        payload: 'amount=10',
      },
      415,
      'UNSUPPORTED_MEDIA_TYPE',
    );
  });

  it('refuses an oversized body', async () => {
    await expectRefused(
      { method: 'POST', url: '/queue/tokens', payload: { userId: 'x'.repeat(100_000) } },
      413,
      'PAYLOAD_TOO_LARGE',
    );
  });

  it.each([
    ['a negative amount', -100],
    ['a zero amount', 0],
    ['a fractional amount', 10.5],
    ['an amount as a string', '100'],
    ['an amount over the maximum', 1_000_001],
    ['no amount', undefined],
  ])('refuses %s', async (_label, amount) => {
    const body = await expectRefused(
      { method: 'POST', url: '/wallet/charges', headers: withToken(), payload: { amount } },
      400,
      'VALIDATION_FAILED',
    );
    expect(body.detail).toContain('amount');
  });

  it('refuses unknown fields in a command', async () => {
    await expectRefused(
      {
        method: 'POST',
        url: '/wallet/charges',
        headers: withToken(),
        payload: { amount: 100, userId: 'someone-else' },
      },
      400,
      'VALIDATION_FAILED',
    );
  });

  it('refuses a user id outside the allowed characters', async () => {
    await expectRefused(
      { method: 'POST', url: '/queue/tokens', payload: { userId: 'robert"); DROP TABLE' } },
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      { method: 'POST', url: '/queue/tokens', payload: { userId: '' } },
      400,
      'VALIDATION_FAILED',
    );
  });

  it('refuses an over-long idempotency key', async () => {
    await expectRefused(
      {
        method: 'POST',
        url: '/wallet/charges',
        headers: withToken({ 'idempotency-key': 'k'.repeat(129) }),
        payload: { amount: 100 },
      },
      400,
      'VALIDATION_FAILED',
    );
  });
});

describe('tokens', () => {
  it('refuses a missing, malformed or forged token', async () => {
    await expectRefused({ method: 'GET', url: '/wallet' }, 401, 'TOKEN_INVALID');
    await expectRefused(
      { method: 'GET', url: '/wallet', headers: { 'x-queue-token': 'not-a-token' } },
      401,
      'TOKEN_INVALID',
    );
    await expectRefused(
      { method: 'GET', url: '/wallet', headers: { 'x-queue-token': randomUUID() } },
      401,
      'TOKEN_INVALID',
    );
    await expectRefused(
      {
        method: 'POST',
        url: '/wallet/charges',
        headers: { 'x-queue-token': randomUUID() },
        payload: { amount: 100 },
      },
      401,
      'TOKEN_INVALID',
    );
  });

  it('refuses a waiting token with its position', async () => {
    const issued = await api.inject({
      method: 'POST',
      url: '/queue/tokens',
      payload: { userId: `waiting-${randomUUID().slice(0, 6)}` },
    });
    const waiting = issued.json<{ token: string }>().token;
    const body = await expectRefused(
      {
        method: 'POST',
        url: '/reservations',
        headers: { 'x-queue-token': waiting },
        payload: { concertTimeId: 'x', seatId: 'y' },
      },
      403,
      'TOKEN_NOT_ACTIVE',
    );
    expect((body as unknown as { position: number }).position).toBeGreaterThanOrEqual(1);
  });

  it('refuses an expired token', async () => {
    const userId = `expiring-${randomUUID().slice(0, 6)}`;
    const expiring = await api.admittedUser(userId);
    api.system.testClock.advance(api.system.config.TOKEN_TTL_SECONDS + 1);
    try {
      await expectRefused(
        { method: 'GET', url: '/wallet', headers: { 'x-queue-token': expiring } },
        403,
        'TOKEN_EXPIRED',
      );
    } finally {
      api.system.testClock.advance(-(api.system.config.TOKEN_TTL_SECONDS + 1));
    }
  });

  it('never lets a body choose whose wallet is charged', async () => {
    const other = await api.admittedUser('other-user');
    await api.inject({
      method: 'POST',
      url: '/wallet/charges',
      headers: withToken(),
      payload: { amount: 500 },
    });
    const wallet = await api.inject({
      method: 'GET',
      url: '/wallet',
      headers: { 'x-queue-token': other },
    });
    expect(wallet.json()).toEqual({ userId: 'other-user', balance: 0 });
  });
});

describe('catalog and reservations', () => {
  const time = () => concert.dates[0]!.concertTimeId;
  const seat = (n: number) => concert.dates[0]!.seats[n]!.seatId;

  it('answers 404 for unknown concerts, times and seats', async () => {
    await expectRefused(
      { method: 'GET', url: '/concerts/nope/dates', headers: withToken() },
      404,
      'NOT_FOUND',
    );
    await expectRefused(
      { method: 'GET', url: '/concert-times/nope/seats', headers: withToken() },
      404,
      'NOT_FOUND',
    );
    await expectRefused(
      {
        method: 'POST',
        url: '/reservations',
        headers: withToken(),
        payload: { concertTimeId: time(), seatId: 'nope' },
      },
      404,
      'NOT_FOUND',
    );
    await expectRefused(
      {
        method: 'POST',
        url: '/reservations',
        headers: withToken(),
        payload: { concertTimeId: 'nope', seatId: seat(0) },
      },
      404,
      'NOT_FOUND',
    );
    await expectRefused(
      { method: 'GET', url: '/reservations/nope', headers: withToken() },
      404,
      'NOT_FOUND',
    );
    await expectRefused(
      {
        method: 'POST',
        url: '/payments',
        headers: withToken(),
        payload: { reservationId: 'nope' },
      },
      404,
      'NOT_FOUND',
    );
    await expectRefused({ method: 'GET', url: '/no-such-route' }, 404, 'NOT_FOUND');
  });

  it('refuses a hold before reservations open', async () => {
    const later = await createConcert(api, 1, 3600);
    await expectRefused(
      {
        method: 'POST',
        url: '/reservations',
        headers: withToken(),
        payload: {
          concertTimeId: later.dates[0]!.concertTimeId,
          seatId: later.dates[0]!.seats[0]!.seatId,
        },
      },
      409,
      'RESERVATION_NOT_OPEN',
    );
  });

  it('refuses a held seat, and hides and refuses another user’s reservation', async () => {
    const held = await api.inject({
      method: 'POST',
      url: '/reservations',
      headers: withToken(),
      payload: { concertTimeId: time(), seatId: seat(0) },
    });
    expect(held.statusCode).toBe(201);
    const reservationId = held.json<{ reservationId: string }>().reservationId;
    const intruder = await api.admittedUser('intruder');
    await expectRefused(
      {
        method: 'POST',
        url: '/reservations',
        headers: { 'x-queue-token': intruder },
        payload: { concertTimeId: time(), seatId: seat(0) },
      },
      409,
      'SEAT_NOT_AVAILABLE',
    );
    await expectRefused(
      {
        method: 'GET',
        url: `/reservations/${reservationId}`,
        headers: { 'x-queue-token': intruder },
      },
      404,
      'NOT_FOUND',
    );
    await api.inject({
      method: 'POST',
      url: '/wallet/charges',
      headers: { 'x-queue-token': intruder },
      payload: { amount: 100_000 },
    });
    await expectRefused(
      {
        method: 'POST',
        url: '/payments',
        headers: { 'x-queue-token': intruder },
        payload: { reservationId },
      },
      409,
      'SEAT_NOT_HELD_BY_USER',
    );
  });
});

describe('payments', () => {
  async function holdFor(userToken: string, seatIndex: number, price: number) {
    const fresh = await createConcert(api, seatIndex + 1);
    const held = await api.inject({
      method: 'POST',
      url: '/reservations',
      headers: { 'x-queue-token': userToken },
      payload: {
        concertTimeId: fresh.dates[0]!.concertTimeId,
        seatId: fresh.dates[0]!.seats[seatIndex]!.seatId,
      },
    });
    const reservation = held.json<{ reservationId: string; price: number }>();
    expect(reservation.price).toBe(price);
    return reservation.reservationId;
  }

  it('refuses a payment the balance cannot cover', async () => {
    const buyer = await api.admittedUser('short-of-money');
    const reservationId = await holdFor(buyer, 0, 10_000);
    const body = await expectRefused(
      {
        method: 'POST',
        url: '/payments',
        headers: { 'x-queue-token': buyer },
        payload: { reservationId },
      },
      409,
      'INSUFFICIENT_BALANCE',
    );
    expect(body.detail).toContain('10000');
  });

  it('refuses a payment after the hold expired', async () => {
    const buyer = await api.admittedUser('too-late');
    await api.inject({
      method: 'POST',
      url: '/wallet/charges',
      headers: { 'x-queue-token': buyer },
      payload: { amount: 50_000 },
    });
    const reservationId = await holdFor(buyer, 0, 10_000);
    api.system.testClock.advance(api.system.config.SEAT_HOLD_TTL_SECONDS + 1);
    try {
      await expectRefused(
        {
          method: 'POST',
          url: '/payments',
          headers: { 'x-queue-token': buyer },
          payload: { reservationId },
        },
        409,
        'HOLD_EXPIRED',
      );
      const reservation = await api.inject({
        method: 'GET',
        url: `/reservations/${reservationId}`,
        headers: { 'x-queue-token': buyer },
      });
      expect(reservation.json()).toMatchObject({ status: 'expired' });
    } finally {
      api.system.testClock.advance(-(api.system.config.SEAT_HOLD_TTL_SECONDS + 1));
    }
  });

  it('refuses to pay twice, and answers a retried payment with its receipt', async () => {
    const userId = `twice-${randomUUID().slice(0, 6)}`;
    const buyer = await api.admittedUser(userId);
    await api.inject({
      method: 'POST',
      url: '/wallet/charges',
      headers: { 'x-queue-token': buyer },
      payload: { amount: 50_000 },
    });
    const reservationId = await holdFor(buyer, 1, 20_000);
    const first = await api.inject({
      method: 'POST',
      url: '/payments',
      headers: { 'x-queue-token': buyer, 'idempotency-key': 'pay-1' },
      payload: { reservationId },
    });
    expect(first.statusCode).toBe(201);
    // The token expired with the payment, but the same request with the same key
    // still gets the same answer and pays nothing more.
    const before = await api.system.store.headPosition();
    const retried = await api.inject({
      method: 'POST',
      url: '/payments',
      headers: { 'x-queue-token': buyer, 'idempotency-key': 'pay-1' },
      payload: { reservationId },
    });
    expect(retried.statusCode).toBe(201);
    expect(retried.json()).toEqual(first.json());
    expect(comparePositions(await api.system.store.headPosition(), before)).toBe(0);
    await expectRefused(
      {
        method: 'POST',
        url: '/payments',
        headers: { 'x-queue-token': buyer },
        payload: { reservationId },
      },
      403,
      'TOKEN_EXPIRED',
    );
    // With a new token, the paid reservation is refused as paid.
    const again = await api.admittedUser(userId);
    await expectRefused(
      {
        method: 'POST',
        url: '/payments',
        headers: { 'x-queue-token': again },
        payload: { reservationId },
      },
      409,
      'ALREADY_PAID',
    );
    const wallet = await api.inject({
      method: 'GET',
      url: '/wallet',
      headers: { 'x-queue-token': again },
    });
    expect(wallet.json()).toEqual({ userId, balance: 30_000 });
  });
});

describe('idempotent charges', () => {
  it('applies a retried charge once and refuses the key for another amount', async () => {
    const buyer = await api.admittedUser('idempotent');
    const send = (amount: number) =>
      api.inject({
        method: 'POST',
        url: '/wallet/charges',
        headers: { 'x-queue-token': buyer, 'idempotency-key': 'charge-1' },
        payload: { amount },
      });
    const first = await send(1000);
    const second = await send(1000);
    expect(second.statusCode).toBe(200);
    expect(second.json()).toEqual(first.json());
    await expectRefused(
      {
        method: 'POST',
        url: '/wallet/charges',
        headers: { 'x-queue-token': buyer, 'idempotency-key': 'charge-1' },
        payload: { amount: 2000 },
      },
      409,
      'IDEMPOTENCY_KEY_REUSED',
    );
    const wallet = await api.inject({
      method: 'GET',
      url: '/wallet',
      headers: { 'x-queue-token': buyer },
    });
    expect(wallet.json<{ balance: number }>().balance).toBe(1000);
  });
});

describe('admin', () => {
  it('refuses admin routes without the key', async () => {
    await expectRefused({ method: 'GET', url: '/admin/projections' }, 401, 'ADMIN_KEY_INVALID');
    await expectRefused(
      { method: 'GET', url: '/admin/projections', headers: { 'x-admin-key': 'wrong' } },
      401,
      'ADMIN_KEY_INVALID',
    );
    await expectRefused(
      {
        method: 'POST',
        url: '/admin/concerts',
        headers: withToken(),
        payload: { title: 'x', dates: [] },
      },
      401,
      'ADMIN_KEY_INVALID',
    );
  });

  it('refuses a malformed concert', async () => {
    const send = (payload: unknown) => ({
      method: 'POST' as const,
      url: '/admin/concerts',
      headers: { 'x-admin-key': adminKey },
      payload,
    });
    await expectRefused(send({ title: 'No dates', dates: [] }), 400, 'VALIDATION_FAILED');
    const date = {
      concertTime: '2031-01-01T19:00:00Z',
      reservationStartTime: '2031-01-01T00:00:00Z',
      seats: [{ seatNumber: 1, price: 100 }],
    };
    await expectRefused(
      send({ title: 'Bad price', dates: [{ ...date, seats: [{ seatNumber: 1, price: -1 }] }] }),
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      send({ title: 'Bad time', dates: [{ ...date, concertTime: 'tomorrow' }] }),
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      send({
        title: 'Opens after',
        dates: [{ ...date, reservationStartTime: '2031-02-01T00:00:00Z' }],
      }),
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      send({
        title: 'Twin seats',
        dates: [
          {
            ...date,
            seats: [
              { seatNumber: 1, price: 1 },
              { seatNumber: 1, price: 2 },
            ],
          },
        ],
      }),
      400,
      'VALIDATION_FAILED',
    );
  });

  it('refuses times and text the log could not keep', async () => {
    const admin = { 'x-admin-key': adminKey };
    const date = {
      concertTime: '2031-01-01T19:00:00Z',
      reservationStartTime: '2031-01-01T00:00:00Z',
      seats: [{ seatNumber: 1, price: 100 }],
    };
    const concert = (payload: unknown) => ({
      method: 'POST' as const,
      url: '/admin/concerts',
      headers: admin,
      payload,
    });
    // Year 10000 in UTC (stored as "+010000-...", which no reader of the log can parse).
    await expectRefused(
      concert({ title: 'Y10K', dates: [{ ...date, concertTime: '9999-12-31T23:59:59-23:59' }] }),
      400,
      'VALIDATION_FAILED',
    );
    // Year 0, which PostgreSQL does not accept.
    await expectRefused(
      concert({
        title: 'Year 0',
        dates: [
          {
            ...date,
            concertTime: '0000-01-01T10:00:00Z',
            reservationStartTime: '0000-01-01T00:00:00Z',
          },
        ],
      }),
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      concert({ title: 'nul\u0000title', dates: [date] }),
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      {
        method: 'PATCH',
        url: '/admin/queue',
        headers: admin,
        payload: { opensAt: '9999-12-31T23:59:59-23:59' },
      },
      400,
      'VALIDATION_FAILED',
    );
    await expectRefused(
      {
        method: 'POST',
        url: '/admin/queue/revocations',
        headers: admin,
        payload: { userId: 'careful', reason: 'nul\u0000reason' },
      },
      400,
      'VALIDATION_FAILED',
    );
  });
});
