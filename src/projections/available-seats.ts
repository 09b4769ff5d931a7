import { sql } from 'kysely';
import { parseEvent } from '../events/event.js';
import { seatKind } from '../events/seat.js';
import { runStatements, type Projection } from './projection.js';

/** Every seat with its current status; the seat query lists the empty ones. */
export const availableSeatsProjection: Projection = {
  name: 'available-seats',
  version: 1,
  handles: [
    'SeatCreated',
    'SeatHeld',
    'SeatHoldExpired',
    'SeatPaymentStarted',
    'SeatPaymentCancelled',
    'SeatPaid',
  ],
  tables: ['seats'],
  init: (db) =>
    runStatements(db, [
      `CREATE TABLE IF NOT EXISTS seats (
         seat_id text PRIMARY KEY,
         concert_id text NOT NULL,
         concert_time_id text NOT NULL,
         seat_number int NOT NULL,
         price bigint NOT NULL,
         status text NOT NULL,
         reservation_id text,
         user_id text,
         hold_expires_at timestamptz,
         revision bigint NOT NULL,
         UNIQUE (concert_time_id, seat_number)
       )`,
      `CREATE INDEX IF NOT EXISTS seats_empty ON seats (concert_time_id, seat_number) WHERE status = 'empty'`,
      `CREATE INDEX IF NOT EXISTS seats_hold_expiry ON seats (hold_expires_at) WHERE status = 'holding'`,
    ]),
  apply: async (events, trx) => {
    for (const recorded of events) {
      const event = parseEvent(seatKind, recorded);
      const revision = Number(recorded.revision);
      // A row reflects one seat stream revision; older or repeated events change nothing.
      const update = (changes: Record<string, unknown>) =>
        trx
          .updateTable('seats')
          .set({ ...changes, revision })
          .where('seat_id', '=', event.data.seatId)
          .where('revision', '<', revision)
          .execute();
      switch (event.type) {
        case 'SeatCreated': {
          const d = event.data;
          await sql`
            INSERT INTO seats (seat_id, concert_id, concert_time_id, seat_number, price, status, revision)
            VALUES (${d.seatId}, ${d.concertId}, ${d.concertTimeId}, ${d.seatNumber}, ${d.price}, 'empty', ${revision})
            ON CONFLICT DO NOTHING`.execute(trx);
          break;
        }
        case 'SeatHeld':
          await update({
            status: 'holding',
            reservation_id: event.data.reservationId,
            user_id: event.data.userId,
            hold_expires_at: new Date(event.data.holdExpiresAt),
          });
          break;
        case 'SeatHoldExpired':
          await update({
            status: 'empty',
            reservation_id: null,
            user_id: null,
            hold_expires_at: null,
          });
          break;
        case 'SeatPaymentStarted':
          await update({ status: 'paying' });
          break;
        case 'SeatPaymentCancelled':
          await update({ status: 'holding' });
          break;
        case 'SeatPaid':
          await update({ status: 'paid', hold_expires_at: null });
          break;
        default: {
          const _exhaustive: never = event;
          return _exhaustive;
        }
      }
    }
  },
};
