import { Subject } from 'rxjs';
import type { ParsedEvent } from '../../src/events/domain-event.js';
import type { ProjectionRunner } from '../../src/projections/runner.js';
import { projections } from '../../src/projections/index.js';
import { rebuildProjection } from '../../src/projections/rebuild.js';
import { createAvailableDates, createAvailableSeatsJson } from '../../src/queries/catalog.js';
import { scheduleTestConcert } from '../support/booking.js';
import { settleProjections, startTestSystem, type TestSystem } from '../support/system.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(() => system.drop());

/**
 * The runner as a cache sees it: leadership and the batches it applies, driven by hand
 * so a batch can land exactly while a load is in flight (the read model is real).
 */
function leaderStub() {
  const applied = new Subject<{ projection: string; events: readonly ParsedEvent[] }>();
  const applying = new Subject<{
    projection: string;
    events: readonly ParsedEvent[];
    done: Promise<unknown>;
  }>();
  const runner = {
    applied,
    applying,
    cacheEpoch: 1,
    isLeader: true,
    follower: { follow: () => undefined },
  } as unknown as ProjectionRunner;
  const apply = (projection: string, type: string, data: Record<string, unknown>) =>
    applied.next({ projection, events: [{ type, data } as unknown as ParsedEvent] });
  /** A batch whose transaction has started; it ends when the returned function is called. */
  const start = (projection: string, type: string, data: Record<string, unknown>) => {
    let end = () => undefined as void;
    const done = new Promise<void>((resolve) => (end = resolve));
    applying.next({ projection, events: [{ type, data } as unknown as ParsedEvent], done });
    return end;
  };
  return { runner, apply, start };
}

describe('available dates cache', () => {
  it('discards a first load that a batch it cannot place yet overlapped', async () => {
    const { concert, date } = await scheduleTestConcert(system, 2);
    await settleProjections(system);
    const { runner, apply } = leaderStub();
    const availableDates = createAvailableDates({ db: system.db, runner });
    const now = system.clock();

    // The first load is in flight (it has not learnt this concert's times yet) when a
    // batch selling out the date commits and is applied.
    const loading = availableDates(concert.concertId, now);
    apply('available-dates', 'SeatHeld', { concertTimeId: date.concertTimeId, seatId: 'any' });
    expect((await loading)?.map((row) => row.concertTimeId)).toEqual([date.concertTimeId]);
    await system.db
      .updateTable('concert_times')
      .set({ available_seats: 0 })
      .where('concert_time_id', '=', date.concertTimeId)
      .execute();

    // The sold-out date must not come back from a cache filled by the overlapped load.
    expect(await availableDates(concert.concertId, now)).toEqual([]);
  });
});

describe('the available seats cache on the leader', () => {
  it('keeps nothing loaded while a batch of its projection is being committed', async () => {
    const { date, seats } = await scheduleTestConcert(system, 2);
    await settleProjections(system);
    const { runner, start } = leaderStub();
    const seatsJson = createAvailableSeatsJson({ db: system.db, runner });
    const held = { concertTimeId: date.concertTimeId, seatId: seats[0]!.seatId };

    // The batch's transaction is open: a load now reads the seat as it was.
    const end = start('available-seats', 'SeatHeld', held);
    expect(JSON.parse((await seatsJson(date.concertTimeId))!.toString())).toHaveLength(2);
    // It commits: another process can see it and answer its 2xx before `applied` runs here.
    await system.db
      .updateTable('seats')
      .set({ status: 'holding' })
      .where('seat_id', '=', held.seatId)
      .execute();
    expect(JSON.parse((await seatsJson(date.concertTimeId))!.toString())).toHaveLength(1);
    end();
  });
});

describe('a rebuild swap', () => {
  it("clears the leader's caches filled from the retired tables", async () => {
    const { date } = await scheduleTestConcert(system, 2);
    await settleProjections(system);
    expect(system.runner.isLeader).toBe(true);
    const seatsJson = createAvailableSeatsJson(system);
    // The live read model went wrong (the reason one rebuilds); the leader cached it.
    await system.db
      .updateTable('seats')
      .set({ status: 'paid' })
      .where('concert_time_id', '=', date.concertTimeId)
      .execute();
    expect(JSON.parse((await seatsJson(date.concertTimeId))!.toString())).toEqual([]);

    const seatsProjection = projections.find((projection) => projection.tables.includes('seats'))!;
    await rebuildProjection(system, seatsProjection);
    // The swap's notice reaches the leader's lock connection asynchronously.
    let seats: unknown[] = [];
    for (let attempt = 0; attempt < 100 && seats.length === 0; attempt++) {
      seats = JSON.parse((await seatsJson(date.concertTimeId))!.toString()) as unknown[];
      if (seats.length === 0) await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(seats).toHaveLength(2);
  });
});
