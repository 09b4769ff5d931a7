import { sql } from 'kysely';
import { concertKind } from '../events/catalog.js';
import { parseEvent } from '../events/event.js';
import { runStatements, type Projection } from './projection.js';

/** Concerts and their times with a live count of available seats. */
export const availableDatesProjection: Projection = {
  name: 'available-dates',
  version: 1,
  handles: ['ConcertScheduled', 'SeatHeld', 'SeatHoldExpired'],
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
    for (const recorded of events) {
      if (recorded.type === 'ConcertScheduled') {
        const { data } = parseEvent(concertKind, recorded);
        await sql`INSERT INTO concerts VALUES (${data.concertId}, ${data.title}, ${data.scheduledAt}) ON CONFLICT DO NOTHING`.execute(
          trx,
        );
        for (const date of data.dates) {
          await sql`
            INSERT INTO concert_times VALUES (${date.concertTimeId}, ${data.concertId}, ${date.concertTime},
              ${date.reservationStartTime}, ${date.seats.length}, ${date.seats.length})
            ON CONFLICT DO NOTHING`.execute(trx);
          // Revision 0 is the seat's SeatCreated event.
          await sql`
            INSERT INTO date_seats (seat_id, concert_time_id, available, revision)
            SELECT seat_id, ${date.concertTimeId}, true, 0 FROM unnest(${date.seats.map((seat) => seat.seatId)}::text[]) AS seat_id
            ON CONFLICT DO NOTHING`.execute(trx);
        }
        continue;
      }
      const seatId = (recorded.data as { seatId: string }).seatId;
      const available = recorded.type === 'SeatHoldExpired';
      // Only a change of availability moves the counter, and only once per seat revision.
      await sql`
        WITH changed AS (
          UPDATE date_seats SET available = ${available}, revision = ${Number(recorded.revision)}
          WHERE seat_id = ${seatId} AND revision < ${Number(recorded.revision)} AND available <> ${available}
          RETURNING concert_time_id
        )
        UPDATE concert_times SET available_seats = available_seats + ${available ? 1 : -1}
        WHERE concert_time_id IN (SELECT concert_time_id FROM changed)`.execute(trx);
    }
  },
};
