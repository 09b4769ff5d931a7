import { randomUUID } from 'node:crypto';
import { scheduleConcert, type ConcertPlan } from '../../src/commands/schedule-concert.js';
import { concertStream } from '../../src/events/catalog.js';
import { seatStream } from '../../src/events/seat.js';
import type { EventStore } from '../../src/events/store/port.js';
import { startTestSystem, type TestSystem } from '../support/system.js';

let system: TestSystem;
beforeAll(async () => {
  system = await startTestSystem();
});
afterAll(() => system.drop());

const plan = (dates: number, seats: number): ConcertPlan => ({
  title: `Hall ${randomUUID().slice(0, 6)}`,
  dates: Array.from({ length: dates }, (_, d) => ({
    concertTime: `2030-03-${String(d + 1).padStart(2, '0')}T10:00:00.000Z`,
    reservationStartTime: '2030-01-01T00:00:00.000Z',
    seats: Array.from({ length: seats }, (_, i) => ({ seatNumber: i + 1, price: 1000 + i })),
  })),
});

async function catalogOf(concertId: string) {
  return system.db
    .selectFrom('concert_times')
    .select(['concert_time_id', 'total_seats', 'available_seats'])
    .where('concert_id', '=', concertId)
    .orderBy('concert_time')
    .execute();
}

async function emptySeats(concertTimeId: string) {
  const row = await system.db
    .selectFrom('seats')
    .select((eb) => eb.fn.countAll<string>().as('count'))
    .where('concert_time_id', '=', concertTimeId)
    .where('status', '=', 'empty')
    .executeTakeFirstOrThrow();
  return Number(row.count);
}

/** A store whose appends fail (as a dropped connection would) while `fail` says so. */
function flaky(store: EventStore, fail: (streamName: string) => boolean): EventStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property !== 'appendToStream') return Reflect.get(target, property, receiver) as unknown;
      return async (...args: Parameters<EventStore['appendToStream']>) => {
        if (fail(args[0])) throw new Error('connection terminated unexpectedly');
        return target.appendToStream(...args);
      };
    },
  });
}

describe('scheduling a concert', () => {
  it('schedules 4,000 seats with a small ConcertScheduled, and the catalog counts them', async () => {
    const { concert, written } = await scheduleConcert(system, plan(2, 2000));
    await system.runner.waitFor(written, 60_000);

    const [scheduled] = await system.store.readStream(concertStream(concert.concertId));
    expect(scheduled!.type).toBe('ConcertScheduled');
    expect(JSON.stringify(scheduled!.data).length).toBeLessThan(2000);
    expect(JSON.stringify(scheduled!.data)).not.toContain('seatId');

    const times = await catalogOf(concert.concertId);
    expect(times.map((t) => [t.total_seats, t.available_seats])).toEqual([
      [2000, 2000],
      [2000, 2000],
    ]);
    expect(await emptySeats(concert.dates[1]!.concertTimeId)).toBe(2000);
  });

  it('completes on retry after a partial failure, with the same ids and no duplicates', async () => {
    const commandId = randomUUID();
    const concertPlan = plan(2, 40);
    let seatAppends = 0;
    // Every attempt dies: the first after 30 seats, the others at the concert event.
    const broken = flaky(system.store, (streamName) =>
      streamName.startsWith('seat-') ? ++seatAppends > 30 && seatAppends <= 35 : true,
    );
    await expect(scheduleConcert({ ...system, store: broken }, concertPlan, { commandId })).rejects.toThrow(
      /connection terminated/,
    );
    const { concert, written } = await scheduleConcert(system, concertPlan, { commandId });
    await system.runner.waitFor(written, 30_000);

    // The retry named what the failed attempts wrote: one concert, each seat once.
    expect(await system.store.readStream(concertStream(concert.concertId))).toHaveLength(1);
    for (const date of concert.dates)
      for (const seat of date.seats)
        expect(await system.store.readStream(seatStream(seat.seatId))).toHaveLength(1);
    const again = await scheduleConcert(system, concertPlan, { commandId });
    expect(again.concert.concertId).toBe(concert.concertId);
    expect(await system.store.readStream(concertStream(concert.concertId))).toHaveLength(1);
    const times = await catalogOf(concert.concertId);
    expect(times.map((t) => t.available_seats)).toEqual([40, 40]);
  });

  it('retries a transient failure by itself', async () => {
    let failures = 2;
    const broken = flaky(system.store, (streamName) =>
      streamName.startsWith('concert-') ? failures-- > 0 : false,
    );
    const { concert, written } = await scheduleConcert({ ...system, store: broken }, plan(1, 5));
    await system.runner.waitFor(written, 30_000);
    expect(await system.store.readStream(concertStream(concert.concertId))).toHaveLength(1);
    expect((await catalogOf(concert.concertId)).map((t) => t.available_seats)).toEqual([5]);
  });
});
