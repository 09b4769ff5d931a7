import { sql, type Transaction } from 'kysely';
import type { ConcertScheduled } from '../events/catalog.js';
import type { Database } from './database.js';
import { defineProjection, runStatements } from './projection.js';

/** Concerts and their times with a live count of available seats. */
export const availableDatesProjection = defineProjection({
  name: 'available-dates',
  // 2: seats arrive through SeatCreated (ConcertScheduled no longer lists them).
  version: 2,
  handles: ['SeatCreated', 'ConcertScheduled', 'SeatHeld', 'SeatHoldExpired'],
  tables: ['concerts', 'concert_times', 'date_seats'],
  init: (db) =>
    runStatements(db, [
      `CREATE TABLE IF NOT EXISTS concerts (
         concert_id text PRIMARY KEY,
         title text NOT NULL,
         scheduled_at timestamptz NOT NULL
       )`,
      `CREATE TABLE IF NOT EXISTS concert_times (
         concert_time_id text PRIMARY KEY,
         concert_id text NOT NULL,
         concert_time timestamptz NOT NULL,
         reservation_start_time timestamptz NOT NULL,
         total_seats int NOT NULL,
         available_seats int NOT NULL
       )`,
      `CREATE INDEX IF NOT EXISTS concert_times_by_concert ON concert_times (concert_id, concert_time)`,
      `CREATE TABLE IF NOT EXISTS date_seats (
         seat_id text PRIMARY KEY,
         concert_time_id text NOT NULL,
         available boolean NOT NULL,
         revision bigint NOT NULL
       )`,
    ]),
  apply: async (events, trx) => {
    // Availability changes fold per seat to the last one in the batch.
    let changes = new Map<string, { available: boolean; revision: number }>();
    let created: { seatId: string; concertTimeId: string }[] = [];
    const flush = async () => {
      await insertSeats(created, trx);
      created = [];
      await applyAvailability(changes, trx);
      changes = new Map();
    };
    for (const event of events) {
      if (event.type === 'ConcertScheduled') {
        await flush();
        await insertConcert(event.data, trx);
        continue;
      }
      if (event.type === 'SeatCreated') {
        created.push({ seatId: event.data.seatId, concertTimeId: event.data.concertTimeId });
        continue;
      }
      changes.set(event.data.seatId, {
        available: event.type === 'SeatHoldExpired',
        revision: Number(event.revision),
      });
    }
    await flush();
  },
});

async function insertSeats(
  created: readonly { seatId: string; concertTimeId: string }[],
  trx: Transaction<Database>,
): Promise<void> {
  if (created.length === 0) return;
  // Revision 0 is the seat's SeatCreated event.
  await sql`
    INSERT INTO date_seats (seat_id, concert_time_id, available, revision)
    SELECT seat_id, concert_time_id, true, 0
    FROM unnest(${created.map((seat) => seat.seatId)}::text[], ${created.map((seat) => seat.concertTimeId)}::text[])
         AS v(seat_id, concert_time_id)
    ON CONFLICT DO NOTHING`.execute(trx);
}

async function applyAvailability(
  changes: ReadonlyMap<string, { available: boolean; revision: number }>,
  trx: Transaction<Database>,
): Promise<void> {
  if (changes.size === 0) return;
  const rows = [...changes];
  // Only a change of availability moves the counter, and only once per seat revision.
  await sql`
    WITH v AS (
      SELECT * FROM unnest(${rows.map(([seatId]) => seatId)}::text[], ${rows.map(([, change]) => change.available)}::boolean[],
                           ${rows.map(([, change]) => change.revision)}::bigint[]) AS v(seat_id, available, revision)
    ), changed AS (
      -- The self-join reads each row as it was before this statement.
      UPDATE date_seats d SET available = v.available, revision = v.revision
      FROM v, date_seats before
      WHERE d.seat_id = v.seat_id AND before.seat_id = d.seat_id AND d.revision < v.revision
      RETURNING d.concert_time_id, d.available, before.available AS was_available
    ), delta AS (
      SELECT concert_time_id, sum(CASE WHEN available THEN 1 ELSE -1 END)::int AS delta
      FROM changed WHERE available <> was_available GROUP BY concert_time_id
    )
    UPDATE concert_times c SET available_seats = c.available_seats + delta.delta
    FROM delta WHERE c.concert_time_id = delta.concert_time_id`.execute(trx);
}

async function insertConcert(data: ConcertScheduled['data'], trx: Transaction<Database>) {
  await sql`INSERT INTO concerts VALUES (${data.concertId}, ${data.title}, ${data.scheduledAt}) ON CONFLICT DO NOTHING`.execute(
    trx,
  );
  for (const date of data.dates) {
    // Events written before seats left ConcertScheduled list them inline.
    if (date.seats) {
      const seats = date.seats.map((seat) => ({
        seatId: seat.seatId,
        concertTimeId: date.concertTimeId,
      }));
      await insertSeats(seats, trx);
    }
    // Every seat of the date was created before the concert (seats first), so its
    // date_seats rows are in: count the available ones.
    await sql`
      INSERT INTO concert_times
      SELECT ${date.concertTimeId}::text, ${data.concertId}::text, ${date.concertTime}::timestamptz,
             ${date.reservationStartTime}::timestamptz,
             ${date.totalSeats ?? date.seats?.length ?? 0}::int,
             (SELECT count(*) FROM date_seats WHERE concert_time_id = ${date.concertTimeId} AND available)::int
      ON CONFLICT DO NOTHING`.execute(trx);
  }
}
