import { sql } from 'kysely';
import type { SeatHeld } from '../events/seat.js';
import { defineProjection, runStatements } from './projection.js';

/** One row per hold; a paying reservation still reads as `holding`. */
export const reservationsProjection = defineProjection({
  name: 'reservations',
  version: 1,
  handles: ['SeatHeld', 'SeatHoldExpired', 'SeatPaid'],
  tables: ['reservations'],
  init: (db) =>
    runStatements(db, [
      `CREATE TABLE IF NOT EXISTS reservations (
         reservation_id text PRIMARY KEY,
         seat_id text NOT NULL,
         concert_time_id text NOT NULL,
         user_id text NOT NULL,
         price bigint NOT NULL,
         status text NOT NULL,
         held_at timestamptz NOT NULL,
         hold_expires_at timestamptz NOT NULL,
         updated_at timestamptz NOT NULL
       )`,
      `CREATE INDEX IF NOT EXISTS reservations_by_user ON reservations (user_id, held_at)`,
    ]),
  apply: async (events, trx) => {
    const held: SeatHeld['data'][] = [];
    // The last outcome per reservation; both only move a reservation out of `holding`.
    const outcomes = new Map<string, { status: 'paid' | 'expired'; at: string }>();
    for (const event of events) {
      switch (event.type) {
        case 'SeatHeld':
          held.push(event.data);
          break;
        case 'SeatPaid':
          outcomes.set(event.data.reservationId, { status: 'paid', at: event.data.paidAt });
          break;
        case 'SeatHoldExpired':
          outcomes.set(event.data.reservationId, { status: 'expired', at: event.data.expiredAt });
          break;
        default: {
          const _exhaustive: never = event;
          return _exhaustive;
        }
      }
    }
    if (held.length > 0) {
      await sql`
        INSERT INTO reservations (reservation_id, seat_id, concert_time_id, user_id, price, status, held_at, hold_expires_at, updated_at)
        SELECT reservation_id, seat_id, concert_time_id, user_id, price, 'holding', held_at, hold_expires_at, held_at
        FROM unnest(${held.map((h) => h.reservationId)}::text[], ${held.map((h) => h.seatId)}::text[], ${held.map((h) => h.concertTimeId)}::text[],
                    ${held.map((h) => h.userId)}::text[], ${held.map((h) => h.price)}::bigint[], ${held.map((h) => h.heldAt)}::timestamptz[],
                    ${held.map((h) => h.holdExpiresAt)}::timestamptz[])
             AS v(reservation_id, seat_id, concert_time_id, user_id, price, held_at, hold_expires_at)
        ON CONFLICT DO NOTHING`.execute(trx);
    }
    if (outcomes.size > 0) {
      const rows = [...outcomes];
      await sql`
        UPDATE reservations SET status = v.status, updated_at = v.at
        FROM unnest(${rows.map(([id]) => id)}::text[], ${rows.map(([, outcome]) => outcome.status)}::text[], ${rows.map(([, outcome]) => outcome.at)}::timestamptz[])
             AS v(reservation_id, status, at)
        WHERE reservations.reservation_id = v.reservation_id AND reservations.status = 'holding'`.execute(
        trx,
      );
    }
  },
});
