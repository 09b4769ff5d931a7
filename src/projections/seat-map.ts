import { sql, type Transaction } from 'kysely';
import type { Database } from './database.js';
import { defineProjection, runStatements } from './projection.js';

/** What a seat map shows: never who holds or bought a seat. */
export type SeatMapStatus = 'empty' | 'held' | 'sold';

interface CreatedSeat {
  seatId: string;
  concertTimeId: string;
  seatNumber: number;
  price: number;
  revision: number;
}

interface Change {
  seatId: string;
  concertTimeId: string;
  status: SeatMapStatus;
  revision: number;
  commit: bigint;
  prepare: bigint;
}

/**
 * Every seat's public status, plus each status change at its log position. Both tables
 * commit with this projection's checkpoint, so a map read with the checkpoint (`asOf`)
 * and the changes after it cover every change exactly once. Payment start and
 * cancellation keep a seat `held`, so they are not changes of the map.
 */
export const seatMapProjection = defineProjection({
  name: 'seat-map',
  version: 1,
  handles: ['SeatCreated', 'SeatHeld', 'SeatHoldExpired', 'SeatPaid'],
  tables: ['seat_map_seats', 'seat_map_changes'],
  init: (db) =>
    runStatements(db, [
      `CREATE TABLE IF NOT EXISTS seat_map_seats (
         seat_id text PRIMARY KEY,
         concert_time_id text NOT NULL,
         seat_number int NOT NULL,
         price bigint NOT NULL,
         status text NOT NULL,
         revision bigint NOT NULL
       )`,
      `CREATE INDEX IF NOT EXISTS seat_map_seats_time ON seat_map_seats (concert_time_id, seat_number)`,
      `CREATE TABLE IF NOT EXISTS seat_map_changes (
         commit_position bigint NOT NULL,
         prepare_position bigint NOT NULL,
         concert_time_id text NOT NULL,
         seat_id text NOT NULL,
         status text NOT NULL,
         PRIMARY KEY (commit_position, prepare_position)
       )`,
      `CREATE INDEX IF NOT EXISTS seat_map_changes_time ON seat_map_changes (concert_time_id, commit_position, prepare_position)`,
    ]),
  apply: async (events, trx) => {
    const created: CreatedSeat[] = [];
    const changes: Change[] = [];
    // Rows of one shape, field by field: spreading each event's data cost a rebuild
    // more than the rest of this projection's Node work.
    for (const event of events) {
      const revision = Number(event.revision);
      let status: SeatMapStatus;
      switch (event.type) {
        case 'SeatCreated': {
          const { seatId, concertTimeId, seatNumber, price } = event.data;
          created.push({ seatId, concertTimeId, seatNumber, price, revision });
          continue;
        }
        case 'SeatHeld':
          status = 'held';
          break;
        case 'SeatHoldExpired':
          status = 'empty';
          break;
        case 'SeatPaid':
          status = 'sold';
          break;
        default: {
          const _exhaustive: never = event;
          return _exhaustive;
        }
      }
      const { seatId, concertTimeId } = event.data;
      const { commit, prepare } = event.position;
      changes.push({ seatId, concertTimeId, status, revision, commit, prepare });
    }
    await insertSeats(created, trx);
    await recordChanges(changes, trx);
  },
});

async function insertSeats(created: readonly CreatedSeat[], trx: Transaction<Database>) {
  if (created.length === 0) return;
  await sql`
    INSERT INTO seat_map_seats (seat_id, concert_time_id, seat_number, price, status, revision)
    SELECT seat_id, concert_time_id, seat_number, price, 'empty', revision
    FROM unnest(${created.map((seat) => seat.seatId)}::text[], ${created.map((seat) => seat.concertTimeId)}::text[],
                ${created.map((seat) => seat.seatNumber)}::int[], ${created.map((seat) => seat.price)}::bigint[],
                ${created.map((seat) => seat.revision)}::bigint[])
         AS v(seat_id, concert_time_id, seat_number, price, revision)
    ON CONFLICT DO NOTHING`.execute(trx);
}

async function recordChanges(changes: readonly Change[], trx: Transaction<Database>) {
  if (changes.length === 0) return;
  await sql`
    INSERT INTO seat_map_changes (commit_position, prepare_position, concert_time_id, seat_id, status)
    SELECT * FROM unnest(${changes.map((change) => String(change.commit))}::bigint[],
                         ${changes.map((change) => String(change.prepare))}::bigint[],
                         ${changes.map((change) => change.concertTimeId)}::text[],
                         ${changes.map((change) => change.seatId)}::text[],
                         ${changes.map((change) => change.status)}::text[])
    ON CONFLICT DO NOTHING`.execute(trx);
  // The last change of each seat in the batch is its status now.
  const latest = new Map(changes.map((change) => [change.seatId, change]));
  const rows = [...latest.values()];
  await sql`
    UPDATE seat_map_seats SET status = v.status, revision = v.revision
    FROM unnest(${rows.map((row) => row.seatId)}::text[], ${rows.map((row) => row.status)}::text[],
                ${rows.map((row) => row.revision)}::bigint[]) AS v(seat_id, status, revision)
    WHERE seat_map_seats.seat_id = v.seat_id AND seat_map_seats.revision < v.revision`.execute(trx);
}
