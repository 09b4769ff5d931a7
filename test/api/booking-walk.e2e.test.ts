import { expireHolds } from '../../src/commands/hold-expiry.js';
import { createConcert, startTestApi, type TestApi } from '../support/api.js';

let api: TestApi;
beforeAll(async () => {
  api = await startTestApi();
});
afterAll(() => api.close());

const json = (token: string) => ({ 'x-queue-token': token });

it('walks a user from the queue to a paid seat, each write visible at once', async () => {
  const app = api;
  const concert = await createConcert(api, 3);
  const concertTimeId = concert.dates[0]!.concertTimeId;
  const seatId = concert.dates[0]!.seats[1]!.seatId;

  // Join the queue; asking again gives the same token back.
  const issued = await app.inject({
    method: 'POST',
    url: '/queue/tokens',
    payload: { userId: 'walker' },
  });
  expect(issued.statusCode).toBe(201);
  const token = issued.json<{ token: string; status: string; position: number }>();
  expect(token).toMatchObject({ status: 'hold', position: 1, userId: 'walker' });
  const again = await app.inject({
    method: 'POST',
    url: '/queue/tokens',
    payload: { userId: 'walker' },
  });
  expect(again.statusCode).toBe(200);
  expect(again.json<{ token: string }>().token).toBe(token.token);

  const waiting = await app.inject({
    method: 'GET',
    url: '/queue/tokens/current',
    headers: json(token.token),
  });
  expect(waiting.json()).toMatchObject({ status: 'hold', position: 1 });
  expect(waiting.json<{ estimatedWaitSeconds: number }>().estimatedWaitSeconds).toBeGreaterThan(0);
  const refused = await app.inject({
    method: 'GET',
    url: `/concerts/${concert.concertId}/dates`,
    headers: json(token.token),
  });
  expect(refused.statusCode).toBe(403);
  expect(refused.json()).toMatchObject({ code: 'TOKEN_NOT_ACTIVE', position: 1 });

  await api.admit();
  const admitted = await app.inject({
    method: 'GET',
    url: '/queue/tokens/current',
    headers: json(token.token),
  });
  expect(admitted.json()).toMatchObject({ status: 'pass', position: 0, estimatedWaitSeconds: 0 });
  expect(admitted.json<{ expiresAt: string }>().expiresAt).toBeDefined();

  const dates = await app.inject({
    method: 'GET',
    url: `/concerts/${concert.concertId}/dates`,
    headers: json(token.token),
  });
  expect(dates.json()).toEqual([
    expect.objectContaining({ concertTimeId, concertId: concert.concertId, availableSeats: 3 }),
  ]);
  const seats = await app.inject({
    method: 'GET',
    url: `/concert-times/${concertTimeId}/seats`,
    headers: json(token.token),
  });
  expect(seats.json<{ seatNumber: number }[]>().map((seat) => seat.seatNumber)).toEqual([1, 2, 3]);

  const held = await app.inject({
    method: 'POST',
    url: '/reservations',
    headers: json(token.token),
    payload: { concertTimeId, seatId },
  });
  expect(held.statusCode).toBe(201);
  const reservation = held.json<{
    reservationId: string;
    price: number;
    status: string;
    holdExpiresAt: string;
  }>();
  expect(reservation).toMatchObject({ concertTimeId, seatId, price: 20_000, status: 'holding' });
  // Read-your-writes: the seat and the count reflect the hold in the very next query.
  const seatsAfter = await app.inject({
    method: 'GET',
    url: `/concert-times/${concertTimeId}/seats`,
    headers: json(token.token),
  });
  expect(seatsAfter.json<{ seatNumber: number }[]>().map((seat) => seat.seatNumber)).toEqual([
    1, 3,
  ]);
  const datesAfter = await app.inject({
    method: 'GET',
    url: `/concerts/${concert.concertId}/dates`,
    headers: json(token.token),
  });
  expect(datesAfter.json<{ availableSeats: number }[]>()[0]!.availableSeats).toBe(2);
  const mine = await app.inject({
    method: 'GET',
    url: `/reservations/${reservation.reservationId}`,
    headers: json(token.token),
  });
  expect(mine.json()).toMatchObject({
    reservationId: reservation.reservationId,
    status: 'holding',
  });

  const charged = await app.inject({
    method: 'POST',
    url: '/wallet/charges',
    headers: json(token.token),
    payload: { amount: 50_000 },
  });
  expect(charged.statusCode).toBe(200);
  expect(charged.json()).toMatchObject({ userId: 'walker', balance: 50_000 });
  const wallet = await app.inject({ method: 'GET', url: '/wallet', headers: json(token.token) });
  expect(wallet.json()).toEqual({ userId: 'walker', balance: 50_000 });

  const paid = await app.inject({
    method: 'POST',
    url: '/payments',
    headers: json(token.token),
    payload: { reservationId: reservation.reservationId },
  });
  expect(paid.statusCode).toBe(201);
  expect(paid.json()).toMatchObject({
    reservationId: reservation.reservationId,
    amount: 20_000,
    balance: 30_000,
    status: 'paid',
  });

  // The payment expired the token at once.
  const after = await app.inject({
    method: 'GET',
    url: '/queue/tokens/current',
    headers: json(token.token),
  });
  expect(after.json()).toMatchObject({ status: 'expired' });
  const blocked = await app.inject({ method: 'GET', url: '/wallet', headers: json(token.token) });
  expect(blocked.json()).toMatchObject({ code: 'TOKEN_EXPIRED' });

  // A new token goes to the back of the queue; through it the paid reservation shows.
  const next = await app.inject({
    method: 'POST',
    url: '/queue/tokens',
    payload: { userId: 'walker' },
  });
  expect(next.statusCode).toBe(201);
  const nextToken = next.json<{ token: string; status: string }>();
  expect(nextToken.token).not.toBe(token.token);
  expect(nextToken.status).toBe('hold');
  await api.admit();
  const paidReservation = await app.inject({
    method: 'GET',
    url: `/reservations/${reservation.reservationId}`,
    headers: json(nextToken.token),
  });
  expect(paidReservation.json()).toMatchObject({ status: 'paid' });
  const walletLater = await app.inject({
    method: 'GET',
    url: '/wallet',
    headers: json(nextToken.token),
  });
  expect(walletLater.json()).toEqual({ userId: 'walker', balance: 30_000 });
});

it('shows waiting users their place in line, first come first served', async () => {
  const app = api;
  const tokens: string[] = [];
  for (const userId of ['line-a', 'line-b', 'line-c']) {
    const issued = await app.inject({ method: 'POST', url: '/queue/tokens', payload: { userId } });
    tokens.push(issued.json<{ token: string }>().token);
  }
  const positions = await Promise.all(
    tokens.map(
      async (token) =>
        (
          await app.inject({ method: 'GET', url: '/queue/tokens/current', headers: json(token) })
        ).json<{ position: number }>().position,
    ),
  );
  expect(positions).toEqual([1, 2, 3]);
});

it('shows a sold-out date again once its only hold expires', async () => {
  const app = api;
  const concert = await createConcert(api, 1);
  const token = await api.admittedUser('sold-out-watcher');
  const dates = async () =>
    (
      await app.inject({
        method: 'GET',
        url: `/concerts/${concert.concertId}/dates`,
        headers: json(token),
      })
    ).json<unknown[]>();
  expect(await dates()).toHaveLength(1);
  const held = await app.inject({
    method: 'POST',
    url: '/reservations',
    headers: json(token),
    payload: {
      concertTimeId: concert.dates[0]!.concertTimeId,
      seatId: concert.dates[0]!.seats[0]!.seatId,
    },
  });
  expect(held.statusCode).toBe(201);
  expect(await dates()).toHaveLength(0);
  const seats = await app.inject({
    method: 'GET',
    url: `/concert-times/${concert.dates[0]!.concertTimeId}/seats`,
    headers: json(token),
  });
  expect(seats.json()).toEqual([]);
  const system = api.system;
  await expireHolds({
    ...system,
    clock: () =>
      new Date(system.clock().getTime() + (system.config.SEAT_HOLD_TTL_SECONDS + 1) * 1000),
  });
  await system.runner.waitFor(
    { position: await system.store.headPosition(), eventTypes: ['SeatHoldExpired'] },
    5000,
  );
  expect(await dates()).toHaveLength(1);
  const seatsAgain = await app.inject({
    method: 'GET',
    url: `/concert-times/${concert.dates[0]!.concertTimeId}/seats`,
    headers: json(token),
  });
  expect(seatsAgain.json<unknown[]>()).toHaveLength(1);
});
