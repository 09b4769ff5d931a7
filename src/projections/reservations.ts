import { parseEvent } from '../events/event.js';
import { seatKind } from '../events/seat.js';
import { runStatements, type Projection } from './projection.js';

/** One row per hold; a paying reservation still reads as `holding`. */
export const reservationsProjection: Projection = {
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
    for (const recorded of events) {
      const event = parseEvent(seatKind, recorded);
      switch (event.type) {
        case 'SeatHeld': {
          const d = event.data;
          await trx
            .insertInto('reservations')
            .values({
              reservation_id: d.reservationId,
              seat_id: d.seatId,
              concert_time_id: d.concertTimeId,
              user_id: d.userId,
              price: d.price,
              status: 'holding',
              held_at: new Date(d.heldAt),
              hold_expires_at: new Date(d.holdExpiresAt),
              updated_at: new Date(d.heldAt),
            })
            .onConflict((conflict) => conflict.doNothing())
            .execute();
          break;
        }
        case 'SeatHoldExpired':
        case 'SeatPaid': {
          const at = event.type === 'SeatPaid' ? event.data.paidAt : event.data.expiredAt;
          await trx
            .updateTable('reservations')
            .set({
              status: event.type === 'SeatPaid' ? 'paid' : 'expired',
              updated_at: new Date(at),
            })
            .where('reservation_id', '=', event.data.reservationId)
            .where('status', '=', 'holding')
            .execute();
          break;
        }
        default:
          break;
      }
    }
  },
};
