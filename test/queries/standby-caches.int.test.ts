import { filter, firstValueFrom } from 'rxjs';
import { holdSeat } from '../../src/commands/hold-seat.js';
import { projections } from '../../src/projections/index.js';
import { rebuildProjection } from '../../src/projections/rebuild.js';
import { createAvailableDates, createAvailableSeatsJson } from '../../src/queries/catalog.js';
import type { System } from '../../src/system.js';
import { scheduleTestConcert } from '../support/booking.js';
import {
  settleProjections,
  startStandby,
  startTestSystem,
  type TestSystem,
} from '../support/system.js';

let leader: TestSystem;
let standby: System;
beforeAll(async () => {
  leader = await startTestSystem();
  standby = await startStandby(leader);
});
afterAll(async () => {
  await standby.close();
  await leader.drop();
});

const seatIds = (json: Buffer | undefined) =>
  (JSON.parse(json!.toString()) as { seatId: string }[]).map((seat) => seat.seatId);

/** A command on the leader, answered as the API answers it: after its read-your-writes wait. */
async function holdOnLeader(concertTimeId: string, seatId: string) {
  const { written } = await holdSeat(
    { store: leader.store, clock: leader.clock, holdTtlSeconds: 300 },
    { userId: `user-${seatId}`, concertTimeId, seatId },
  );
  expect(await leader.runner.waitFor(written, 10_000)).toBe(true);
}

describe("a standby's caches", () => {
  it('serve from the cache, yet show a hold made on the leader right after its answer', async () => {
    const { date, seats } = await scheduleTestConcert(leader, 3);
    await settleProjections(leader);
    const seatsJson = createAvailableSeatsJson(standby);
    expect(seatIds(await seatsJson(date.concertTimeId))).toHaveLength(3);
    expect(standby.runner.cacheEpoch).toBeDefined();

    // A write that bypasses the projections is invisible to a cached read: it is cached.
    await leader.db
      .updateTable('seats')
      .set({ status: 'paid' })
      .where('seat_id', '=', seats[2]!.seatId)
      .execute();
    expect(seatIds(await seatsJson(date.concertTimeId))).toHaveLength(3);

    // Held through the leader; no notification is awaited: the very next read shows it.
    await holdOnLeader(date.concertTimeId, seats[0]!.seatId);
    const after = seatIds(await seatsJson(date.concertTimeId));
    expect(after).not.toContain(seats[0]!.seatId);
    // The batch dropped the entry; the reload read the table as it is.
    expect(after).toEqual([seats[1]!.seatId]);
  });

  it("hear of the leader's batches (NOTIFY) and catch up before any read asks", async () => {
    const { date, seats } = await scheduleTestConcert(leader, 2);
    await settleProjections(leader);
    const seatsJson = createAvailableSeatsJson(standby);
    await seatsJson(date.concertTimeId);
    const heard = firstValueFrom(
      standby.runner.applied.pipe(
        filter(
          (batch) =>
            batch.projection === 'available-seats' &&
            batch.events.some(
              (event) => 'seatId' in event.data && event.data.seatId === seats[0]!.seatId,
            ),
        ),
      ),
    );
    await holdOnLeader(date.concertTimeId, seats[0]!.seatId);
    // Resolves only if the standby dispatched the hold with no read of its own.
    expect((await heard).events).toHaveLength(1);
  });

  it('drop a date that sells out on the leader', async () => {
    const { concert, date, seats } = await scheduleTestConcert(leader, 2);
    await settleProjections(leader);
    const availableDates = createAvailableDates(standby);
    const listed = await availableDates(concert.concertId, standby.clock());
    expect(listed?.map((row) => row.concertTimeId)).toEqual([date.concertTimeId]);

    for (const seat of seats) await holdOnLeader(date.concertTimeId, seat.seatId);
    expect(await availableDates(concert.concertId, standby.clock())).toEqual([]);
  });

  it('are cleared by a rebuild swap, seen at the next read', async () => {
    const { date } = await scheduleTestConcert(leader, 2);
    await settleProjections(leader);
    const seatsJson = createAvailableSeatsJson(standby);
    // The live read model went wrong (the reason one rebuilds); the standby cached it.
    await leader.db
      .updateTable('seats')
      .set({ status: 'paid' })
      .where('concert_time_id', '=', date.concertTimeId)
      .execute();
    expect(seatIds(await seatsJson(date.concertTimeId))).toEqual([]);

    const seatsProjection = projections.find((projection) => projection.tables.includes('seats'))!;
    await rebuildProjection(leader, seatsProjection);
    expect(seatIds(await seatsJson(date.concertTimeId))).toHaveLength(2);
  });
});
