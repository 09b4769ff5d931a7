import type { ConcertTimeTable, Db } from '../projections/database.js';
import { availableDatesProjection } from '../projections/available-dates.js';
import { availableSeatsProjection } from '../projections/available-seats.js';
import type { ProjectionRunner } from '../projections/runner.js';
import { LeaderCache } from './leader-cache.js';

type DatesEventType = (typeof availableDatesProjection.handles)[number];
type SeatsEventType = (typeof availableSeatsProjection.handles)[number];

export async function listConcerts(db: Db) {
  const rows = await db
    .selectFrom('concerts')
    .leftJoin('concert_times', 'concert_times.concert_id', 'concerts.concert_id')
    .select((eb) => [
      'concerts.concert_id',
      'concerts.title',
      eb.fn.min('concert_times.concert_time').as('first_concert_time'),
      eb.fn.max('concert_times.concert_time').as('last_concert_time'),
      eb.fn.count<string>('concert_times.concert_time_id').as('dates'),
    ])
    .groupBy(['concerts.concert_id', 'concerts.title', 'concerts.scheduled_at'])
    .orderBy('concerts.scheduled_at')
    .execute();
  return rows.map((row) => ({
    concertId: row.concert_id,
    title: row.title,
    dates: Number(row.dates),
    firstConcertTime: row.first_concert_time
      ? new Date(row.first_concert_time).toISOString()
      : null,
    lastConcertTime: row.last_concert_time ? new Date(row.last_concert_time).toISOString() : null,
  }));
}

export async function concertExists(db: Db, concertId: string): Promise<boolean> {
  const row = await db
    .selectFrom('concerts')
    .select('concert_id')
    .where('concert_id', '=', concertId)
    .executeTakeFirst();
  return row !== undefined;
}

function toDate(
  row: Pick<
    ConcertTimeTable,
    'concert_time_id' | 'concert_id' | 'concert_time' | 'reservation_start_time' | 'available_seats'
  >,
) {
  return {
    concertTimeId: row.concert_time_id,
    concertId: row.concert_id,
    concertTime: row.concert_time.toISOString(),
    reservationStartTime: row.reservation_start_time.toISOString(),
    availableSeats: row.available_seats,
  };
}

export async function concertTimeExists(db: Db, concertTimeId: string): Promise<boolean> {
  const row = await db
    .selectFrom('concert_times')
    .select('concert_time_id')
    .where('concert_time_id', '=', concertTimeId)
    .executeTakeFirst();
  return row !== undefined;
}

export async function availableSeats(db: Db, concertTimeId: string) {
  const rows = await db
    .selectFrom('seats')
    .select(['seat_id', 'seat_number', 'price'])
    .where('concert_time_id', '=', concertTimeId)
    .where('status', '=', 'empty')
    .orderBy('seat_number')
    .execute();
  return rows.map((row) => ({
    seatId: row.seat_id,
    seatNumber: row.seat_number,
    price: row.price,
    status: 'empty' as const,
  }));
}

/**
 * The seat list of a concert time as the JSON bytes the API sends (bytes, so that no answer
 * encodes or measures tens of kilobytes again), cached in the projection process and
 * dropped as soon as a seat event of that time is applied (LeaderCache).
 * Undefined for an unknown concert time.
 */
export function createAvailableSeatsJson(deps: { db: Db; runner: ProjectionRunner }) {
  const cache = new LeaderCache<Buffer, SeatsEventType>(
    deps.runner,
    availableSeatsProjection,
    (event) =>
      // A payment starting or being cancelled leaves the seat out of the list either way.
      'concertTimeId' in event.data ? [event.data.concertTimeId] : [],
  );
  // A time appearing in concert_times comes from another projection: never cache "unknown".
  return async (concertTimeId: string): Promise<Buffer | undefined> =>
    cache.read(concertTimeId, async () =>
      (await concertTimeExists(deps.db, concertTimeId))
        ? Buffer.from(JSON.stringify(await availableSeats(deps.db, concertTimeId)))
        : undefined,
    );
}

/**
 * Future times of a concert that still have seats, soonest first: cached per concert (LeaderCache)
 * and filtered by the clock on every call. Undefined for an unknown concert.
 */
export function createAvailableDates(deps: { db: Db; runner: ProjectionRunner }) {
  const concertOfTime = new Map<string, string>();
  const cache = new LeaderCache<{ rows: ReturnType<typeof toDate>[] }, DatesEventType>(
    deps.runner,
    availableDatesProjection,
    (event) => {
      const concertId =
        event.type === 'ConcertScheduled'
          ? event.data.concertId
          : concertOfTime.get(event.data.concertTimeId);
      if (concertId) return [concertId];
      // A time not learnt yet may belong to a concert whose first load is in flight.
      return event.type === 'ConcertScheduled' ? [] : 'unplaceable';
    },
  );
  const load = async (concertId: string) => {
    if (!(await concertExists(deps.db, concertId))) return undefined;
    // Every time of the concert: seats and the clock filter on the way out, and each time
    // is known here so that a change to any of them drops this entry.
    const rows = (
      await deps.db
        .selectFrom('concert_times')
        .select([
          'concert_time_id',
          'concert_id',
          'concert_time',
          'reservation_start_time',
          'available_seats',
        ])
        .where('concert_id', '=', concertId)
        .orderBy('concert_time')
        .execute()
    ).map(toDate);
    for (const row of rows) concertOfTime.set(row.concertTimeId, concertId);
    return { rows };
  };
  return async (concertId: string, now: Date) => {
    const found = await cache.read(concertId, () => load(concertId));
    return found?.rows.filter(
      (row) => row.availableSeats > 0 && Date.parse(row.concertTime) > now.getTime(),
    );
  };
}
