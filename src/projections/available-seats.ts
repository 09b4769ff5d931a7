import { sql, type Transaction } from 'kysely';
import type { Database } from './database.js';
import { defineProjection, runStatements } from './projection.js';

/** The columns a seat event sets; a batch folds each seat's events into one patch. */
interface SeatPatch {
  status?: 'empty' | 'holding' | 'paying' | 'paid';
  reservation_id?: string | null;
  user_id?: string | null;
  hold_expires_at?: string | null;
}

const patchColumns = ['status', 'reservation_id', 'user_id', 'hold_expires_at'] as const;
const columnTypes: Record<(typeof patchColumns)[number], string> = {
  status: 'text',
  reservation_id: 'text',
  user_id: 'text',
  hold_expires_at: 'timestamptz',
};

/**
 * Applies folded patches with one UPDATE per shape of patch (a batch of holds is one
 * statement). A row changes only if it reflects an older seat revision than the batch's
 * last event, so applying a batch twice changes nothing.
 */
async function applyPatches(
  trx: Transaction<Database>,
  patches: Map<string, { patch: SeatPatch; revision: number }>,
) {
  const byShape = new Map<string, { seatId: string; patch: SeatPatch; revision: number }[]>();
  for (const [seatId, { patch, revision }] of patches) {
    const shape = patchColumns.filter((column) => column in patch).join(',');
    const group = byShape.get(shape) ?? [];
    group.push({ seatId, patch, revision });
    byShape.set(shape, group);
  }
  for (const [shape, group] of byShape) {
    const columns = shape ? (shape.split(',') as (typeof patchColumns)[number][]) : [];
    const arrays = [
      sql`unnest(${group.map((row) => row.seatId)}::text[]) AS seat_id`,
      sql`unnest(${group.map((row) => row.revision)}::bigint[]) AS revision`,
      ...columns.map(
        (column) =>
          sql`unnest(${group.map((row) => row.patch[column] ?? null)}::${sql.raw(columnTypes[column])}[]) AS ${sql.ref(column)}`,
      ),
    ];
    const sets = [
      sql`revision = v.revision`,
      ...columns.map((column) => sql`${sql.ref(column)} = v.${sql.ref(column)}`),
    ];
    await sql`
      UPDATE seats SET ${sql.join(sets)}
      FROM (SELECT ${sql.join(arrays)}) AS v
      WHERE seats.seat_id = v.seat_id AND seats.revision < v.revision`.execute(trx);
  }
}

/** Every seat with its current status; the seat query lists the empty ones. */
export const availableSeatsProjection = defineProjection({
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
    const created: {
      seatId: string;
      concertId: string;
      concertTimeId: string;
      seatNumber: number;
      price: number;
      revision: number;
    }[] = [];
    const patches = new Map<string, { patch: SeatPatch; revision: number }>();
    for (const event of events) {
      const revision = Number(event.revision);
      if (event.type === 'SeatCreated') {
        const { seatId, concertId, concertTimeId, seatNumber, price } = event.data;
        created.push({ seatId, concertId, concertTimeId, seatNumber, price, revision });
        continue;
      }
      let change: SeatPatch;
      switch (event.type) {
        case 'SeatHeld':
          change = {
            status: 'holding',
            reservation_id: event.data.reservationId,
            user_id: event.data.userId,
            hold_expires_at: event.data.holdExpiresAt,
          };
          break;
        case 'SeatHoldExpired':
          change = { status: 'empty', reservation_id: null, user_id: null, hold_expires_at: null };
          break;
        case 'SeatPaymentStarted':
          change = { status: 'paying' };
          break;
        case 'SeatPaymentCancelled':
          change = { status: 'holding' };
          break;
        case 'SeatPaid':
          change = { status: 'paid', hold_expires_at: null };
          break;
        default: {
          const _exhaustive: never = event;
          return _exhaustive;
        }
      }
      const folded = patches.get(event.data.seatId);
      patches.set(event.data.seatId, { patch: { ...folded?.patch, ...change }, revision });
    }
    if (created.length > 0) {
      await sql`
        INSERT INTO seats (seat_id, concert_id, concert_time_id, seat_number, price, status, revision)
        SELECT seat_id, concert_id, concert_time_id, seat_number, price, 'empty', revision
        FROM unnest(${created.map((seat) => seat.seatId)}::text[], ${created.map((seat) => seat.concertId)}::text[],
                    ${created.map((seat) => seat.concertTimeId)}::text[], ${created.map((seat) => seat.seatNumber)}::int[],
                    ${created.map((seat) => seat.price)}::bigint[], ${created.map((seat) => seat.revision)}::bigint[])
             AS v(seat_id, concert_id, concert_time_id, seat_number, price, revision)
        ON CONFLICT DO NOTHING`.execute(trx);
    }
    if (patches.size > 0) await applyPatches(trx, patches);
  },
});
