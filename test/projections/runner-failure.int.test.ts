import { sql } from 'kysely';
import { holdSeat } from '../../src/commands/hold-seat.js';
import { issueToken } from '../../src/commands/issue-token.js';
import { projections } from '../../src/projections/index.js';
import { scheduleTestConcert } from '../support/booking.js';
import {
  readModelDifferences,
  settleProjections,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(() => system.drop());

async function statusOf(name: string) {
  const statuses = await system.runner.statuses();
  return statuses.find((status) => status.name === name)!;
}

async function until<T>(read: () => Promise<T>, done: (value: T) => boolean): Promise<T> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await read();
    if (done(value) || Date.now() > deadline) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe('the projection runner, when one projection cannot apply', () => {
  it('keeps the others current, reports the failing one, and catches it up once it can', async () => {
    const { date, seats } = await scheduleTestConcert(system, 3);
    const hold = (i: number) =>
      holdSeat(
        { ...system, holdTtlSeconds: 300 },
        { userId: `user-${i}`, concertTimeId: date.concertTimeId, seatId: seats[i]!.seatId },
      );
    await hold(0);
    await settleProjections(system);

    // The reservations projection's table goes away: its applies fail in PostgreSQL.
    await sql`ALTER TABLE reservations RENAME TO reservations_away`.execute(system.db);
    try {
      await hold(1);
      const head = await system.store.headPosition();
      // Every projection that can apply does (SeatCreated is read by all the seat
      // projections but reservations), whatever the failing one does.
      expect(
        await system.runner.waitFor({ position: head, eventTypes: ['SeatCreated'] }, 10_000),
      ).toBe(true);
      expect(await system.runner.waitFor({ position: head, eventTypes: ['SeatHeld'] }, 1_500)).toBe(
        false,
      );
      const statuses = await system.runner.statuses();
      const others = statuses.filter((status) => status.name !== 'reservations');
      expect(others.map((status) => status.name).sort()).toEqual(
        projections
          .map((p) => p.name)
          .filter((name) => name !== 'reservations')
          .sort(),
      );
      expect(others.map((status) => status.status)).toEqual(others.map(() => 'running'));
      const seatRow = await system.db
        .selectFrom('seats')
        .select('status')
        .where('seat_id', '=', seats[1]!.seatId)
        .executeTakeFirstOrThrow();
      expect(seatRow.status).toBe('holding');
      const mapRow = await system.db
        .selectFrom('seat_map_seats')
        .select('status')
        .where('seat_id', '=', seats[1]!.seatId)
        .executeTakeFirstOrThrow();
      expect(mapRow.status).toBe('held');
      const failing = await until(
        () => statusOf('reservations'),
        (value) => value.status === 'failing',
      );
      expect(failing.status).toBe('failing');
      expect(failing.lastError).toMatch(/reservations/);
    } finally {
      await sql`ALTER TABLE reservations_away RENAME TO reservations`.execute(system.db);
    }

    // Once it can apply again it catches up, and keeps up with what follows.
    await hold(2);
    await settleProjections(system);
    const held = await system.db
      .selectFrom('reservations')
      .select('seat_id')
      .where('concert_time_id', '=', date.concertTimeId)
      .orderBy('seat_id')
      .execute();
    expect(held.map((row) => row.seat_id).sort()).toEqual(seats.map((seat) => seat.seatId).sort());
    expect(
      (
        await until(
          () => statusOf('reservations'),
          (value) => value.status === 'running',
        )
      ).status,
    ).toBe('running');
    const differences = await readModelDifferences(system);
    expect(differences).toEqual([]);
  });

  it('keeps every projection that does not read an unreadable event going', async () => {
    // Its own log: the event below stays in it for good.
    const own = await startTestSystem();
    try {
      const { date, seats } = await scheduleTestConcert(own, 1);
      // A concert event its schema refuses (what an unbounded time once wrote to the log).
      await own.store.appendToStream('concert-unreadable', [
        { type: 'ConcertScheduled', data: { concertId: 'unreadable', title: 7 } },
      ]);
      await issueToken(own, 'after-the-bad-event');
      await holdSeat(
        { ...own, holdTtlSeconds: 300 },
        {
          userId: 'after-the-bad-event',
          concertTimeId: date.concertTimeId,
          seatId: seats[0]!.seatId,
        },
      );
      const head = await own.store.headPosition();
      // Only available-dates reads ConcertScheduled; the others pass the bad event.
      const caughtUp = (types: string[], timeoutMs = 10_000) =>
        own.runner.waitFor({ position: head, eventTypes: types }, timeoutMs);
      expect(await caughtUp(['TokenIssued'])).toBe(true); // tokens
      expect(await caughtUp(['SeatPaid'])).toBe(true); // seats, reservations, seat map
      expect(await caughtUp(['ConcertScheduled'], 1_500)).toBe(false); // available-dates
      const dates = await until(
        async () =>
          (await own.runner.statuses()).find((status) => status.name === 'available-dates')!,
        (value) => value.status === 'failing',
      );
      expect(dates.status).toBe('failing');
      expect(dates.lastError).toMatch(/title|concertTime|dates/);
    } finally {
      await own.drop();
    }
  });
});
