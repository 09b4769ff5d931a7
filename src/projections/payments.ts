import { defineProjection, runStatements } from './projection.js';

export const paymentsProjection = defineProjection({
  name: 'payments',
  version: 1,
  handles: ['PaymentStarted', 'PaymentCompleted', 'PaymentFailed'],
  tables: ['payments'],
  init: (db) =>
    runStatements(db, [
      `CREATE TABLE IF NOT EXISTS payments (
         payment_id text PRIMARY KEY,
         reservation_id text NOT NULL,
         seat_id text NOT NULL,
         user_id text NOT NULL,
         amount bigint NOT NULL,
         status text NOT NULL,
         code text,
         refunded boolean NOT NULL DEFAULT false,
         started_at timestamptz NOT NULL,
         updated_at timestamptz NOT NULL
       )`,
      `CREATE INDEX IF NOT EXISTS payments_pending ON payments (started_at) WHERE status = 'pending'`,
    ]),
  apply: async (events, trx) => {
    for (const event of events) {
      switch (event.type) {
        case 'PaymentStarted': {
          const d = event.data;
          await trx
            .insertInto('payments')
            .values({
              payment_id: d.paymentId,
              reservation_id: d.reservationId,
              seat_id: d.seatId,
              user_id: d.userId,
              amount: d.amount,
              status: 'pending',
              code: null,
              refunded: false,
              started_at: new Date(d.startedAt),
              updated_at: new Date(d.startedAt),
            })
            .onConflict((conflict) => conflict.doNothing())
            .execute();
          break;
        }
        case 'PaymentCompleted':
          await trx
            .updateTable('payments')
            .set({ status: 'paid', updated_at: new Date(event.data.completedAt) })
            .where('payment_id', '=', event.data.paymentId)
            .where('status', '=', 'pending')
            .execute();
          break;
        case 'PaymentFailed':
          await trx
            .updateTable('payments')
            .set({
              status: 'failed',
              code: event.data.code,
              refunded: event.data.refunded,
              updated_at: new Date(event.data.failedAt),
            })
            .where('payment_id', '=', event.data.paymentId)
            .where('status', '=', 'pending')
            .execute();
          break;
        default: {
          const _exhaustive: never = event;
          return _exhaustive;
        }
      }
    }
  },
});
