import { randomUUID } from 'node:crypto';
import { charge } from '../../src/commands/charge.js';
import type { DomainError } from '../../src/commands/errors.js';
import { expireHolds } from '../../src/commands/hold-expiry.js';
import { holdSeat } from '../../src/commands/hold-seat.js';
import { issueToken } from '../../src/commands/issue-token.js';
import { pay } from '../../src/commands/pay.js';
import { foldEvents } from '../../src/events/event.js';
import { seatKind, seatStream } from '../../src/events/seat.js';
import { walletKind, walletStream } from '../../src/events/wallet.js';
import { expectInvariants, scheduleTestConcert } from '../support/booking.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(() => system.drop());

const deps = () => ({
  store: system.store,
  clock: system.clock,
  holdTtlSeconds: system.config.SEAT_HOLD_TTL_SECONDS,
  maxChargeAmount: system.config.MAX_CHARGE_AMOUNT,
});
const codeOf = (result: PromiseSettledResult<unknown>) =>
  result.status === 'rejected' ? (result.reason as DomainError).code : 'ok';
const user = () => `user-${randomUUID().slice(0, 8)}`;

describe('holding a seat under contention', () => {
  it('lets exactly one of 200 concurrent holds on one seat succeed', async () => {
    const { date, seats } = await scheduleTestConcert(system);
    const seatId = seats[0]!.seatId;
    const results = await Promise.allSettled(
      Array.from({ length: 200 }, () =>
        holdSeat(deps(), { userId: user(), concertTimeId: date.concertTimeId, seatId }),
      ),
    );
    const codes = results.map(codeOf);
    expect(codes.filter((code) => code === 'ok')).toHaveLength(1);
    expect(codes.filter((code) => code === 'SEAT_NOT_AVAILABLE')).toHaveLength(199);
    const events = await system.store.readStream(seatStream(seatId));
    expect(events.filter((event) => event.type === 'SeatHeld')).toHaveLength(1);
  });
});

describe('charging a wallet', () => {
  it('loses no update among 100 concurrent charges', async () => {
    const userId = user();
    await Promise.all(Array.from({ length: 100 }, () => charge(deps(), { userId, amount: 100 })));
    const wallet = foldEvents(walletKind, await system.store.readStream(walletStream(userId)));
    expect(wallet.balance).toBe(10_000);
  });

  it('applies a charge retried with one idempotency key once, even concurrently', async () => {
    const userId = user();
    const results = await Promise.all(
      Array.from({ length: 10 }, () =>
        charge(deps(), { userId, amount: 700, idempotencyKey: 'key-1' }),
      ),
    );
    expect(new Set(results.map((result) => result.chargeId)).size).toBe(1);
    expect(results.map((result) => result.balance)).toEqual(Array(10).fill(700));
    const again = await charge(deps(), { userId, amount: 700, idempotencyKey: 'key-1' });
    expect(again.balance).toBe(700);
    await expect(
      charge(deps(), { userId, amount: 800, idempotencyKey: 'key-1' }),
    ).rejects.toMatchObject({ code: 'IDEMPOTENCY_KEY_REUSED' });
    const events = await system.store.readStream(walletStream(userId));
    expect(events).toHaveLength(1);
  });
});

describe('paying', () => {
  async function heldSeat(balance: number) {
    const userId = user();
    const { date, seats } = await scheduleTestConcert(system, 1);
    const { token } = await issueToken(system, userId);
    if (balance > 0) await charge(deps(), { userId, amount: balance });
    const { reservation } = await holdSeat(deps(), {
      userId,
      concertTimeId: date.concertTimeId,
      seatId: seats[0]!.seatId,
    });
    return { userId, token, reservation, seatId: seats[0]!.seatId };
  }

  it('takes exactly one debit from 20 concurrent payments of one hold', async () => {
    const { userId, token, reservation, seatId } = await heldSeat(200_000);
    const results = await Promise.allSettled(
      Array.from({ length: 20 }, () =>
        pay(system, {
          userId,
          tokenId: token.tokenId,
          reservationId: reservation.reservationId,
          seatId,
        }),
      ),
    );
    expect(results.filter((result) => result.status === 'fulfilled')).toHaveLength(1);
    for (const code of results.map(codeOf).filter((code) => code !== 'ok')) {
      expect(['PAYMENT_IN_PROGRESS', 'ALREADY_PAID']).toContain(code);
    }
    const wallet = foldEvents(walletKind, await system.store.readStream(walletStream(userId)));
    expect(Object.keys(wallet.debits)).toHaveLength(1);
    expect(wallet.balance).toBe(150_000);
    await expectInvariants(system.store, [userId], [seatId]);
  });

  it('refuses a payment the balance cannot cover and changes nothing', async () => {
    const { userId, token, reservation, seatId } = await heldSeat(10_000);
    const before = (await system.store.readStream(seatStream(seatId))).length;
    await expect(
      pay(system, {
        userId,
        tokenId: token.tokenId,
        reservationId: reservation.reservationId,
        seatId,
      }),
    ).rejects.toMatchObject({ code: 'INSUFFICIENT_BALANCE' });
    expect(await system.store.readStream(seatStream(seatId))).toHaveLength(before);
    expect(
      foldEvents(walletKind, await system.store.readStream(walletStream(userId))).balance,
    ).toBe(10_000);
  });

  it('never lets both a payment and the hold expiry win', async () => {
    const rounds = 25;
    const userIds: string[] = [];
    const seatIds: string[] = [];
    let paid = 0;
    let expired = 0;
    for (let round = 0; round < rounds; round++) {
      const { userId, token, reservation, seatId } = await heldSeat(100_000);
      userIds.push(userId);
      seatIds.push(seatId);
      // Both are allowed to act: the clock stands exactly at the hold's end for expiry,
      // and the payment started a moment before (it decided while the hold was live).
      const expiryClock = () => new Date(reservation.holdExpiresAt);
      await system.runner.waitFor(
        { position: await system.store.headPosition(), eventTypes: ['SeatHeld'] },
        5000,
      );
      const [payment] = await Promise.allSettled([
        pay(system, {
          userId,
          tokenId: token.tokenId,
          reservationId: reservation.reservationId,
          seatId,
        }),
        expireHolds({ store: system.store, db: system.db, clock: expiryClock }),
      ]);
      const seat = foldEvents(seatKind, await system.store.readStream(seatStream(seatId)));
      const wallet = foldEvents(walletKind, await system.store.readStream(walletStream(userId)));
      if (seat.status === 'paid') {
        paid++;
        expect(payment.status).toBe('fulfilled');
        expect(wallet.balance).toBe(50_000);
      } else {
        expired++;
        expect(payment.status).toBe('rejected');
        expect(wallet.balance).toBe(100_000);
      }
    }
    expect(paid + expired).toBe(rounds);
    await expectInvariants(system.store, userIds, seatIds);
  });
});

describe('queue tokens', () => {
  it('gives a user one live token however often they ask, concurrently too', async () => {
    const userId = user();
    const results = await Promise.all(Array.from({ length: 10 }, () => issueToken(system, userId)));
    expect(new Set(results.map((result) => result.token.tokenId)).size).toBe(1);
    expect(results.filter((result) => result.created)).toHaveLength(1);
  });

  it('issues unguessable token ids', async () => {
    const { token } = await issueToken(system, user());
    expect(token.tokenId).toMatch(
      /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/,
    );
  });
});
